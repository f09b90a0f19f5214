(function () {
  "use strict";
  // The callback's parameters (the code) leave the address bar and history.
  history.replaceState(null, "", window.location.pathname);
  // A tab the application opened may close itself; others say so instead.
  setTimeout(function () { window.close(); }, 1500);
})();
