// The boot page: "out of service" (drawn by the HTML alone) until the firmware's screen page
// answers, then that page. Polls once a second; a poll that hangs is given up after 3 s.
"use strict";
(function () {
  const target = JSON.parse(document.getElementById("boot").textContent).screen_url;
  // Read by the tests.
  window.gateBoot = { polls: 0, target: target };

  function poll() {
    window.gateBoot.polls += 1;
    const abort = new AbortController();
    const timer = setTimeout(function () { abort.abort(); }, 3000);
    fetch(target, { mode: "no-cors", cache: "no-store", signal: abort.signal }).then(
      function () { clearTimeout(timer); location.replace(target); },
      function () { clearTimeout(timer); setTimeout(poll, 1000); }
    );
  }

  poll();
})();
