// wahost console: the simulator's chat. Plain JS; every text goes in through textContent.
"use strict";

(function chat() {
  const root = document.getElementById("chat");
  if (!root) return;
  const api = root.dataset.api;
  const csrfHeader = root.dataset.csrfHeader;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const thread = document.getElementById("thread");
  const status = document.getElementById("chat-status");
  const userSelect = document.getElementById("chat-user");
  const asSelect = document.getElementById("chat-as");
  const asLabel = document.getElementById("chat-as-label");
  const newGroup = document.getElementById("chat-new-group");
  const composer = document.getElementById("composer");
  const input = document.getElementById("chat-text");
  const TICKS = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓ read", failed: "⚠ failed" };

  let user = "";
  // The open group chat ({id, subject, participants}), or null for a one-to-one chat.
  let group = null;
  let groups = new Map();
  let defaultUser = "";
  let last = 0;
  let items = new Map();
  let poller = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(text) {
    status.textContent = text || "";
  }

  async function act(action) {
    say("");
    const response = await fetch(api + "/act", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", [csrfHeader]: csrf },
      body: JSON.stringify(group ? { user: asSelect.value, group: group.id, action: action } : { user: user, action: action }),
    });
    if (!response.ok) {
      let reason = response.statusText;
      try { reason = (await response.json()).error || reason; } catch (error) { /* not JSON */ }
      say("Not sent: " + reason);
    }
  }

  function time(seconds) {
    const date = new Date(seconds * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function flowForm(item) {
    const spec = item.form;
    const form = el("form", "flow");
    form.appendChild(el("strong", "", spec.title));
    for (const field of spec.fields) {
      const label = el("label", field.type === "checkbox" || field.type === "optin" ? "check" : "");
      let control;
      if (field.type === "textarea") {
        control = el("textarea");
      } else if (field.type === "select" || field.type === "radio") {
        control = el("select");
        if (!field.required) control.appendChild(el("option", "", ""));
        for (const option of field.options || []) {
          const node = el("option", "", option.title);
          node.value = option.id;
          control.appendChild(node);
        }
      } else {
        control = el("input");
        const types = { text: "text", number: "number", email: "email", phone: "tel", password: "password", date: "date", checkbox: "checkbox", optin: "checkbox" };
        control.type = types[field.type] || "text";
      }
      control.name = field.name;
      control.required = Boolean(field.required) && control.type !== "checkbox";
      if (control.type === "checkbox") {
        label.appendChild(control);
        label.appendChild(el("span", "", field.label));
      } else {
        label.appendChild(el("span", "", field.label + (field.required ? " *" : "")));
        label.appendChild(control);
      }
      form.appendChild(label);
    }
    if (spec.note) form.appendChild(el("small", "footer", spec.note));
    const submit = el("button", "", spec.submit || "Submit");
    submit.type = "submit";
    form.appendChild(submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = {};
      for (const control of form.elements) {
        if (!control.name) continue;
        if (control.type === "checkbox") values[control.name] = control.checked;
        else if (control.type === "number" && control.value !== "") values[control.name] = Number(control.value);
        else values[control.name] = control.value;
      }
      act({ form: [item.id, values] });
    });
    return form;
  }

  function bubble(item) {
    if (item.kind === "reaction" && item.reaction) {
      const node = el("li", "bubble reaction from-" + item.from, item.reaction.emoji || "");
      node.dataset.id = item.id;
      node.title = "reaction to " + item.reaction.to;
      return node;
    }
    const node = el("li", "bubble from-" + item.from + " kind-" + item.kind);
    node.dataset.id = item.id;
    if (item.author) node.appendChild(el("div", "author", "+" + item.author));
    if (item.header) node.appendChild(el("div", "header", item.header));
    if (item.media) {
      const caption = item.media.caption ? " — " + item.media.caption : "";
      node.appendChild(el("div", "media", "📎 " + item.media.type + ": " + (item.media.name || "(file)") + caption));
    }
    if (item.kind === "template" && !item.text) node.appendChild(el("div", "body", "(template)"));
    if (item.text) node.appendChild(el("div", "body", item.text));
    if (item.footer) node.appendChild(el("div", "footer", item.footer));
    if (item.choices && item.choices.length) {
      const box = el("div", "choices");
      if (item.choices_label) box.appendChild(el("span", "choices-label", item.choices_label));
      for (const choice of item.choices) {
        const button = el("button", "choice", choice.label);
        button.type = "button";
        if (choice.description) button.appendChild(el("small", "", choice.description));
        button.addEventListener("click", () => act({ choice: [item.id, choice.n] }));
        box.appendChild(button);
      }
      node.appendChild(box);
    }
    if (item.form) node.appendChild(flowForm(item));
    if (item.from === "bot" && !group) {
      const reactions = el("div", "reactions");
      for (const emoji of ["👍", "❤️", "😂"]) {
        const button = el("button", "react", emoji);
        button.type = "button";
        button.title = "React " + emoji;
        button.addEventListener("click", () => act({ react: [item.id, emoji] }));
        reactions.appendChild(button);
      }
      node.appendChild(reactions);
    }
    if (item.unhandled) node.appendChild(el("div", "unhandled", "no plugin handled this message"));
    const meta = el("div", "meta", time(item.time));
    if (item.from === "user" && item.status) meta.textContent += " " + (TICKS[item.status] || item.status);
    node.appendChild(meta);
    return node;
  }

  function upsert(item) {
    items.set(item.id, item);
    const fresh = bubble(item);
    const old = thread.querySelector('[data-id="' + CSS.escape(item.id) + '"]');
    if (old) {
      old.replaceWith(fresh);
    } else {
      thread.appendChild(fresh);
      thread.scrollTop = thread.scrollHeight;
    }
  }

  async function poll(signal) {
    while (!signal.aborted) {
      try {
        const query = new URLSearchParams({ user: group ? group.id : user, after: String(last), timeout: "20" });
        const response = await fetch(api + "/items?" + query, { credentials: "same-origin", signal: signal });
        if (response.status === 401) { say("Logged out: reload the page."); return; }
        if (!response.ok) throw new Error(response.statusText);
        const data = await response.json();
        for (const item of data.items) upsert(item);
        last = Math.max(last, data.last);
        say("");
      } catch (error) {
        if (signal.aborted) return;
        say("Reconnecting…");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  function open(name) {
    if (poller) poller.abort();
    group = groups.get(name) || null;
    asLabel.hidden = !group;
    if (group) {
      asSelect.replaceChildren();
      for (const member of group.participants) {
        const option = el("option", "", "+" + member);
        option.value = member;
        asSelect.appendChild(option);
      }
    } else {
      user = name;
    }
    last = 0;
    items = new Map();
    thread.replaceChildren();
    poller = new AbortController();
    poll(poller.signal);
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    act({ text: text });
  });

  userSelect.addEventListener("change", () => open(userSelect.value));

  function addGroupOption(found) {
    groups.set(found.id, found);
    const option = el("option", "", "👥 " + found.subject);
    option.value = found.id;
    userSelect.appendChild(option);
  }

  newGroup.addEventListener("click", async () => {
    const subject = window.prompt("Group subject", "Group");
    if (subject === null) return;
    const others = window.prompt("Participants besides " + defaultUser + " (numbers, comma-separated)", "");
    if (others === null) return;
    const participants = [defaultUser, ...others.split(",").map((n) => n.trim()).filter(Boolean)];
    const response = await fetch(api + "/groups", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", [csrfHeader]: csrf },
      body: JSON.stringify({ subject: subject, participants: participants }),
    });
    const data = await response.json();
    if (!response.ok) { say("No group: " + (data.error || response.statusText)); return; }
    addGroupOption(data);
    userSelect.value = data.id;
    open(data.id);
  });

  fetch(api + "/users", { credentials: "same-origin" })
    .then((response) => response.json())
    .then((data) => {
      defaultUser = data.default_user;
      for (const name of data.users.length ? data.users : [data.default_user]) {
        const option = el("option", "", name);
        option.value = name;
        userSelect.appendChild(option);
      }
      for (const found of data.groups || []) addGroupOption(found);
      userSelect.value = data.default_user;
      open(data.default_user);
    })
    .catch(() => say("The simulator does not answer."));
})();
