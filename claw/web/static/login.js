// Trade the link's #token (a fragment: never sent to the server in a URL) for an HttpOnly session cookie.
(async function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", "/");  // the token leaves the address bar (and history) at once
  if (!token) return;
  const r = await fetch("/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify({ token: token }), credentials: "same-origin" });
  await r.text();  // the exchange is complete before the page moves on
  if (r.ok) location.replace("/home");
  else if (r.status === 429) document.getElementById("msg").textContent = "Too many wrong tokens: wait a minute.";
  else document.getElementById("msg").textContent = "That link's token is wrong or out of date: run `claw token`.";
})();
