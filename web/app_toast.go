package web

import "net/http"

// toastJS is the merchant pages' one script of ours, loaded on an embedded
// session's pages after App Bridge: the page's notice (data-toast) shows as
// an admin toast, as a save in the admin does, and its banner steps aside.
// Without App Bridge (window.shopify) it does nothing and the banner stays.
// shopify.toast.show(message):
// https://shopify.dev/docs/api/app-home/apis/user-interface-and-interactions/toast-api
const toastJS = `(function () {
  var n = document.querySelector("[data-toast]");
  if (!n || !window.shopify || !window.shopify.toast) return;
  window.shopify.toast.show(n.textContent);
  var b = n.closest("s-banner");
  if (b) b.hidden = true;
})();
`

// appToastJS is GET /app/toast.js.
func (s *Server) appToastJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(toastJS))
}
