/* The API key of a page (the live dashboard, the customer view).
 *
 * It comes from the URL fragment (#key=...), which browsers never send to a server,
 * or from the page's form; it is kept in sessionStorage (this tab only) and taken out
 * of the address bar. window.streamAppKey(item) gives a page its key's helpers.
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
    remember(value) {
      const store = storage();
      if (store) {
        if (value) store.setItem(item, value);
        else store.removeItem(item);
      }
    },
  });
})();
