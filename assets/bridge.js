(function () {
  "use strict";
  var status = document.getElementById("status");
  // Stop the spinner and say why; text only, never HTML.
  function fail(title, message) {
    document.title = title;
    document.querySelector("main").className = "card error";
    document.querySelector("h1").textContent = title;
    status.textContent = message;
  }
  var fragment = window.location.hash.replace(/^#/, "");
  if (!fragment) {
    fail("Nothing to complete",
      "This page expected sign-in data after the # in its address, but there was none. " +
      "Return to the application and start the sign-in again.");
    return;
  }
  // Take the tokens out of the address bar (and history) before anything else.
  history.replaceState(null, "", window.location.pathname + window.location.search);
  // Every pair is sent, repeats included: the server refuses a repeated key
  // (an object would silently keep the last one).
  var pairs = [];
  new URLSearchParams(fragment).forEach(function (value, key) {
    pairs.push(JSON.stringify(key) + ":" + JSON.stringify(value));
  });
  // To the address it was loaded from, query included: a provider may put
  // `state` (or `iss`) in the query and the tokens in the fragment.
  fetch(window.location.pathname + window.location.search, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "text/html" },
    body: '{"fragment_params":{' + pairs.join(",") + "}}",
    credentials: "same-origin",
    referrerPolicy: "same-origin",
    cache: "no-store"
  })
    .then(function (response) {
      // The application sends the browser on (--success-redirect): go there.
      var next = /^0;url=(https?:\/\/.+)$/i.exec(response.headers.get("Refresh") || "");
      if (next) {
        window.location.replace(next[1]);
        return null;
      }
      return response.text();
    })
    .then(function (html) {
      if (html === null) return;
      document.open();
      document.write(html);
      document.close();
    })
    .catch(function () {
      fail("Sign-in not delivered",
        "The sign-in data could not be handed to the application. Return to it and try again.");
    });
})();
