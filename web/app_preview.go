package web

// previewJS makes the settings page's email preview live: while the
// merchant types in a wording field, the subject or the preview's
// language, it asks POST /app/settings/preview (which saves nothing) for
// the page as typed, and puts that page's preview in place of the one
// shown. Without it (no JavaScript, or a browser without fetch) the
// Preview button does the same with a page load.
const previewJS = `(function () {
  var form = document.querySelector("form[action='/app/settings']");
  if (!form || !window.fetch || !window.DOMParser || !window.FormData) return;
  var live = /^(wording_|subject$|preview_lang$)/;
  var timer, seq = 0;
  function refresh() {
    var mine = ++seq;
    fetch("/app/settings/preview", {method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== seq) return; // a later refresh is on its way
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("email-preview");
        var shown = document.getElementById("email-preview");
        if (fresh && shown) shown.replaceWith(document.importNode(fresh, true));
        else if (shown) shown.hidden = true; // this language's wording has a problem: Save or Preview shows it
      })
      .catch(function () {});
  }
  function changed(e) {
    if (!e.target.name || !live.test(e.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
})();
`
