// wahost console: confirmations and a live overview. Plain JS, no dependencies.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

(function liveOverview() {
  const stats = document.getElementById("stats");
  if (!stats) return;
  const url = stats.dataset.refresh;
  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      for (const element of document.querySelectorAll("[data-stat]")) {
        const name = element.dataset.stat;
        if (name === "rate") {
          element.textContent = data.rate === null ? "measuring…" : data.rate.toFixed(2);
        } else if (name in data.stats) {
          element.textContent = String(data.stats[name]);
        }
      }
      const line = document.querySelector(".sparkline polyline");
      if (line) line.setAttribute("points", data.points);
    } catch (error) {
      // The host may be restarting: try again at the next tick.
    }
  }
  window.setInterval(refresh, 5000);
})();
