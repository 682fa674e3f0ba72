// The sign-in screen: sign in, create an account, or join as a guest.
import { MAX_DISPLAY_NAME_CHARS, MAX_PASSWORD_CHARS } from "../protocol.js";
import { describeError } from "../lib/api.js";
import { checkGuestName, checkPassword, checkUsername } from "../lib/validate.js";
import { h, replace } from "./dom.js";

const TABS = [
  { id: "login", label: "Sign in" },
  { id: "signup", label: "Sign up" },
  { id: "guest", label: "Guest" },
];

/**
 * Builds the auth screen. `server` is null (fine) or {message} when the server could not be
 * reached; `onRetry` re-checks it. `onSignedIn(user)` runs after any successful form.
 */
export function authView({ api, onSignedIn, server = null, onRetry = null, initialTab = "login" }) {
  let current = initialTab;
  const panel = h("div", { class: "auth-panel" });
  const tabButtons = TABS.map((tab) =>
    h("button", {
      type: "button",
      role: "tab",
      id: `tab-${tab.id}`,
      "aria-controls": "auth-form",
      class: "tab",
      onclick: () => select(tab.id, true),
      onkeydown: (event) => {
        const index = TABS.findIndex((t) => t.id === current);
        const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        select(TABS[(index + step + TABS.length) % TABS.length].id, true);
        tabButtons[TABS.findIndex((t) => t.id === current)].focus();
      },
    }, tab.label),
  );

  const banner = server
    ? h("div", { class: "banner banner-warn", role: "alert" },
        h("span", {}, server.message),
        onRetry ? h("button", { type: "button", class: "link-button", onclick: onRetry }, "Retry") : null)
    : null;

  const screen = h("main", { class: "auth-screen", id: "main" },
    h("div", { class: "auth-card" },
      h("h1", { class: "brand" }, "edgeroom"),
      h("p", { class: "muted" }, "Real-time rooms. Sign in, create an account, or join as a guest."),
      banner,
      h("div", { class: "tabs", role: "tablist", "aria-label": "How to join" }, tabButtons),
      panel,
    ),
  );

  function field(id, label, attrs, hint = null) {
    const input = h("input", { id, name: id, required: true, ...attrs, ...(hint ? { "aria-describedby": `${id}-hint` } : {}) });
    return { input, row: h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { id: `${id}-hint`, class: "muted" }, hint) : null) };
  }

  function form(tab) {
    const error = h("p", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" });
    const rows = [];
    let read;
    if (tab === "guest") {
      const name = field("guest-name", "Nickname", { autocomplete: "nickname", maxlength: MAX_DISPLAY_NAME_CHARS * 2 }, "Shown to others. Guest sessions last a day.");
      rows.push(name.row);
      submit.textContent = "Join as guest";
      read = () => {
        const check = checkGuestName(name.input.value);
        return check.ok ? { call: () => api.guest(check.value) } : { error: check.error, focus: name.input };
      };
    } else {
      const user = field("username", "User name", { autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 32 },
        tab === "signup" ? "3-32 letters, digits, '_', '.' or '-'." : null);
      const password = field("password", "Password", { type: "password", autocomplete: tab === "signup" ? "new-password" : "current-password", maxlength: MAX_PASSWORD_CHARS },
        tab === "signup" ? "At least 8 characters." : null);
      rows.push(user.row, password.row);
      submit.textContent = tab === "signup" ? "Create account" : "Sign in";
      read = () => {
        const name = checkUsername(user.input.value);
        if (!name.ok) return { error: name.error, focus: user.input };
        const pass = checkPassword(password.input.value);
        if (!pass.ok) return { error: pass.error, focus: password.input };
        return { call: () => (tab === "signup" ? api.signup(name.value, pass.value) : api.login(name.value, pass.value)) };
      };
    }
    const element = h("form", { id: "auth-form", role: "tabpanel", "aria-labelledby": `tab-${tab}`, novalidate: true }, rows, error, submit);
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      for (const input of element.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      const request = read();
      if (request.error) {
        error.textContent = request.error;
        request.focus?.setAttribute("aria-invalid", "true");
        request.focus?.focus();
        return;
      }
      submit.disabled = true;
      element.setAttribute("aria-busy", "true");
      try {
        const answer = await request.call();
        onSignedIn(answer?.user ?? null);
      } catch (failure) {
        error.textContent = describeError(failure);
      } finally {
        submit.disabled = false;
        element.removeAttribute("aria-busy");
      }
    });
    return element;
  }

  function select(tab, focusField) {
    current = tab;
    tabButtons.forEach((button, i) => {
      const selected = TABS[i].id === tab;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    });
    const element = form(tab);
    replace(panel, element);
    if (focusField) element.querySelector("input")?.focus();
  }

  select(current, false);
  return screen;
}
