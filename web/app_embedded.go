package web

import "net/http"

// embeddedJS is the merchant pages' one script of ours, loaded on an
// embedded session's pages right after App Bridge (which loads
// synchronously, so window.shopify is there when it runs). With App Bridge
// the admin shows the title bar and the navigation: the page's own header
// and title step aside (the "in-admin" class, app_templates.go's CSS), and
// the page's notice (data-toast) shows as an admin toast, as a save in the
// admin does, instead of its banner. shopify.toast.show(message):
// https://shopify.dev/docs/api/app-home/apis/user-interface-and-interactions/toast-api
// Without App Bridge (a blocked CDN) it does nothing: the page stays as
// its HTML is.
const embeddedJS = `(function () {
  var shopify = window.shopify;
  if (!shopify) return;
  document.documentElement.classList.add("in-admin");
  function toast() {
    var n = document.querySelector("[data-toast]");
    if (!n || !shopify.toast) return;
    shopify.toast.show(n.textContent);
    var b = n.closest("s-banner");
    if (b) b.style.display = "none";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", toast);
  else toast();
})();
`

// script serves one of the merchant pages' own scripts (embeddedJS,
// previewJS): public, cached for an hour, never sniffed as anything else.
func script(js string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write([]byte(js))
	}
}
