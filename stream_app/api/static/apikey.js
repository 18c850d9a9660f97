/* The API key of a page (the live dashboard, the customer view).
 *
 * It comes from the URL fragment (#key=...), which browsers never send to a server,
 * or from the page's form (#login, #key-form, #key-input, #login-error); it is kept in
 * sessionStorage (this tab only) and taken out of the address bar.
 * window.streamAppKey(item) gives a page its key's helpers.
 */
(() => {
  "use strict";

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null; // storage disabled: the key lives in memory only
    }
  }

  window.streamAppKey = (item) => ({
    fromFragment() {
      const found = new URLSearchParams(window.location.hash.slice(1)).get("key");
      if (found) {
        // Out of the address bar (and of bookmarks and screenshots); kept for this tab.
        window.history.replaceState(null, "", window.location.pathname + window.location.search);
      }
      return found ? found.trim() : null;
    },
    stored() {
      const store = storage();
      return store && store.getItem(item);
    },
    // Ask for a key: the form instead of the page's main part (``main``: its id).
    ask(main, error) {
      const $ = (id) => document.getElementById(id);
      $(main).hidden = true;
      $("forget").hidden = true;
      $("login").hidden = false;
      $("login-error").hidden = !error;
      $("login-error").textContent = error || "";
      $("key-input").focus();
    },
    // Call ``use(key)`` with each key pasted into the form (the field is cleared).
    onKey(use) {
      const input = document.getElementById("key-input");
      document.getElementById("key-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const value = input.value.trim();
        input.value = "";
        if (value) use(value);
      });
    },
    // A key is at hand: the page's main part instead of the form.
    show(main) {
      document.getElementById("login").hidden = true;
      document.getElementById(main).hidden = false;
      document.getElementById("forget").hidden = false;
    },
    remember(value) {
      const store = storage();
      if (store) {
        if (value) store.setItem(item, value);
        else store.removeItem(item);
      }
    },
  });
})();
