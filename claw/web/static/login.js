// Trade the link's #token (a fragment: never sent to the server in a URL) for an HttpOnly session cookie.
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", "/");  // the token leaves the address bar (and history) at once
  if (!token) return;
  fetch("/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify({ token: token }), credentials: "same-origin" })
    .then(function (r) {
      if (r.ok) { location.replace("/home"); return; }
      document.getElementById("msg").textContent = "That link's token is wrong or out of date: run `claw token`.";
    });
})();
