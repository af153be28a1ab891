package web

import (
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/review"
)

// The reasons the requests page gives for a skipped or failed request, in
// the merchant's language, keyed by review's reason codes ("reason."+code).
// English is review.Label's, its one home; a reason not listed here shows
// as review.Label has it.
var pageReasons = []review.Reason{review.ReasonAlreadySent, review.ReasonOutcomeUnknown, review.ReasonRequestErased,
	review.ReasonOrderNotFound, review.ReasonCancelled, review.ReasonRefunded, review.ReasonUnsubscribed,
	review.ReasonUndeliverable, review.ReasonSpamReport, review.ReasonErased, review.ReasonNoConsent, review.ReasonOptedOut,
	review.ReasonNoEmail, review.ReasonNotSent, review.ReasonExcluded, review.ReasonShopDisconnected, review.ReasonSendFailed,
	review.ReasonStopped, review.ReasonShipmentsCancelled, review.ReasonCapEmails, review.ReasonCapProducts,
	review.ReasonSenderUnverified, review.ReasonReviewURLRefused, review.ReasonRejected}

func init() {
	en := locale.Messages{}
	for _, r := range pageReasons {
		en["reason."+string(r)] = review.Label(string(r))
	}
	merchantText.Add(locale.Default, en)
	for lang, m := range reasonText {
		merchantText.Add(lang, m)
	}
}

// reasonLabel says a recorded reason in lang.
func reasonLabel(lang, code string) string {
	if k := "reason." + code; merchantText.Has(k) {
		return trLang(lang, k)
	}
	return review.Label(code)
}

var reasonText = map[string]locale.Messages{
	"pt-BR": {
		"reason.already_sent":           "já enviado",
		"reason.outcome_unknown":        "o SendGrid pode ter aceitado, mas nunca confirmou; não é enviado de novo",
		"reason.request_erased":         "excluído",
		"reason.order_not_found":        "pedido não encontrado na Shopify",
		"reason.cancelled":              "pedido cancelado",
		"reason.refunded":               "pedido reembolsado",
		"reason.unsubscribed":           "o cliente cancelou a inscrição",
		"reason.undeliverable":          "endereço devolvido ou inválido",
		"reason.spam_report":            "o cliente marcou um e-mail anterior como spam",
		"reason.erased":                 "dados do cliente excluídos",
		"reason.no_consent":             "sem consentimento para marketing por e-mail",
		"reason.opted_out_of_marketing": "o cliente recusou o marketing",
		"reason.no_email":               "o pedido não tem endereço de e-mail",
		"reason.first_email_not_sent":   "o primeiro e-mail não foi enviado",
		"reason.excluded":               "todos os produtos excluídos",
		"reason.shop_disconnected":      "loja desconectada",
		"reason.send_failed":            "o envio falhou",
		"reason.stopped":                "interrompido",
		"reason.shipments_cancelled":    "todas as remessas do pedido foram canceladas",
		"reason.cap_emails":             "o cliente já recebeu o máximo de e-mails de avaliação permitido em 30 dias",
		"reason.cap_products_asked":     "o cliente já foi consultado sobre todos os produtos nos últimos 12 meses",
		"reason.sender_unverified":      "o SendGrid recusou o endereço do remetente (não é um remetente verificado); não é tentado de novo",
		"reason.review_url_refused":     "o destino da avaliação não está nos domínios da sua loja nem em uma plataforma de avaliações",
		"reason.sendgrid_rejected":      "recusado pelo SendGrid",
	},
	"es": {
		"reason.already_sent":           "ya enviada",
		"reason.outcome_unknown":        "puede que SendGrid la aceptara, pero nunca lo confirmó; no se vuelve a enviar",
		"reason.request_erased":         "eliminada",
		"reason.order_not_found":        "pedido no encontrado en Shopify",
		"reason.cancelled":              "pedido cancelado",
		"reason.refunded":               "pedido reembolsado",
		"reason.unsubscribed":           "el cliente se dio de baja",
		"reason.undeliverable":          "dirección rebotada o no válida",
		"reason.spam_report":            "el cliente marcó un correo anterior como spam",
		"reason.erased":                 "datos del cliente eliminados",
		"reason.no_consent":             "sin consentimiento de marketing por correo electrónico",
		"reason.opted_out_of_marketing": "el cliente rechazó el marketing",
		"reason.no_email":               "el pedido no tiene dirección de correo",
		"reason.first_email_not_sent":   "el primer correo no se envió",
		"reason.excluded":               "todos los productos excluidos",
		"reason.shop_disconnected":      "tienda desconectada",
		"reason.send_failed":            "el envío falló",
		"reason.stopped":                "detenida",
		"reason.shipments_cancelled":    "se cancelaron todos los envíos del pedido",
		"reason.cap_emails":             "el cliente ya recibió el máximo de correos de reseña permitido en 30 días",
		"reason.cap_products_asked":     "ya se preguntó al cliente por todos los productos en los últimos 12 meses",
		"reason.sender_unverified":      "SendGrid rechazó la dirección del remitente (no es un remitente verificado); no se reintenta",
		"reason.review_url_refused":     "el destino de la reseña no está en los dominios de tu tienda ni en una plataforma de reseñas",
		"reason.sendgrid_rejected":      "rechazada por SendGrid",
	},
	"fr": {
		"reason.already_sent":           "déjà envoyée",
		"reason.outcome_unknown":        "SendGrid l'a peut-être acceptée, sans jamais le confirmer ; elle n'est pas renvoyée",
		"reason.request_erased":         "effacée",
		"reason.order_not_found":        "commande introuvable dans Shopify",
		"reason.cancelled":              "commande annulée",
		"reason.refunded":               "commande remboursée",
		"reason.unsubscribed":           "client désabonné",
		"reason.undeliverable":          "adresse en échec ou invalide",
		"reason.spam_report":            "le client a signalé un e-mail précédent comme spam",
		"reason.erased":                 "données du client effacées",
		"reason.no_consent":             "pas de consentement au marketing par e-mail",
		"reason.opted_out_of_marketing": "le client a refusé le marketing",
		"reason.no_email":               "la commande n'a pas d'adresse e-mail",
		"reason.first_email_not_sent":   "le premier e-mail n'a pas été envoyé",
		"reason.excluded":               "tous les produits sont exclus",
		"reason.shop_disconnected":      "boutique déconnectée",
		"reason.send_failed":            "l'envoi a échoué",
		"reason.stopped":                "arrêtée",
		"reason.shipments_cancelled":    "toutes les expéditions de la commande ont été annulées",
		"reason.cap_emails":             "le client a déjà reçu le nombre maximal d'e-mails de demande d'avis sur 30 jours",
		"reason.cap_products_asked":     "l'avis du client a déjà été demandé sur chaque produit au cours des 12 derniers mois",
		"reason.sender_unverified":      "SendGrid a refusé l'adresse d'expéditeur (expéditeur non vérifié) ; pas de nouvelle tentative",
		"reason.review_url_refused":     "la destination de l'avis n'est ni sur les domaines de votre boutique ni sur une plateforme d'avis",
		"reason.sendgrid_rejected":      "refusée par SendGrid",
	},
	"it": {
		"reason.already_sent":           "già inviata",
		"reason.outcome_unknown":        "SendGrid potrebbe averla accettata ma non l'ha mai confermato; non viene inviata di nuovo",
		"reason.request_erased":         "cancellata",
		"reason.order_not_found":        "ordine non trovato in Shopify",
		"reason.cancelled":              "ordine annullato",
		"reason.refunded":               "ordine rimborsato",
		"reason.unsubscribed":           "il cliente si è disiscritto",
		"reason.undeliverable":          "indirizzo respinto o non valido",
		"reason.spam_report":            "il cliente ha segnalato un'email precedente come spam",
		"reason.erased":                 "dati del cliente cancellati",
		"reason.no_consent":             "nessun consenso al marketing via email",
		"reason.opted_out_of_marketing": "il cliente ha rifiutato il marketing",
		"reason.no_email":               "l'ordine non ha un indirizzo email",
		"reason.first_email_not_sent":   "la prima email non è stata inviata",
		"reason.excluded":               "tutti i prodotti sono esclusi",
		"reason.shop_disconnected":      "negozio scollegato",
		"reason.send_failed":            "invio non riuscito",
		"reason.stopped":                "interrotta",
		"reason.shipments_cancelled":    "tutte le spedizioni dell'ordine sono state annullate",
		"reason.cap_emails":             "il cliente ha già ricevuto il numero massimo di email di recensione consentito in 30 giorni",
		"reason.cap_products_asked":     "al cliente è già stato chiesto di ogni prodotto negli ultimi 12 mesi",
		"reason.sender_unverified":      "SendGrid ha rifiutato l'indirizzo del mittente (non è un mittente verificato); non viene ritentata",
		"reason.review_url_refused":     "la destinazione della recensione non è sui domini del tuo negozio né su una piattaforma di recensioni",
		"reason.sendgrid_rejected":      "rifiutata da SendGrid",
	},
	"de": {
		"reason.already_sent":           "bereits gesendet",
		"reason.outcome_unknown":        "SendGrid hat sie vielleicht angenommen, aber nie bestätigt; sie wird nicht erneut gesendet",
		"reason.request_erased":         "gelöscht",
		"reason.order_not_found":        "Bestellung in Shopify nicht gefunden",
		"reason.cancelled":              "Bestellung storniert",
		"reason.refunded":               "Bestellung erstattet",
		"reason.unsubscribed":           "Kunde hat abbestellt",
		"reason.undeliverable":          "Adresse unzustellbar oder ungültig",
		"reason.spam_report":            "Kunde hat eine frühere E-Mail als Spam gemeldet",
		"reason.erased":                 "Daten des Kunden gelöscht",
		"reason.no_consent":             "keine Einwilligung in E-Mail-Marketing",
		"reason.opted_out_of_marketing": "Kunde hat Marketing abgelehnt",
		"reason.no_email":               "Bestellung hat keine E-Mail-Adresse",
		"reason.first_email_not_sent":   "erste E-Mail wurde nicht gesendet",
		"reason.excluded":               "alle Produkte ausgeschlossen",
		"reason.shop_disconnected":      "Shop getrennt",
		"reason.send_failed":            "Versand fehlgeschlagen",
		"reason.stopped":                "angehalten",
		"reason.shipments_cancelled":    "jede Sendung der Bestellung wurde storniert",
		"reason.cap_emails":             "Kunde hat bereits die in 30 Tagen erlaubte Höchstzahl an Bewertungs-E-Mails erhalten",
		"reason.cap_products_asked":     "Kunde wurde in den letzten 12 Monaten bereits zu jedem Produkt gefragt",
		"reason.sender_unverified":      "SendGrid hat die Absenderadresse abgelehnt (kein verifizierter Absender); keine Wiederholung",
		"reason.review_url_refused":     "Bewertungsziel liegt weder auf den Domains deines Shops noch auf einer Bewertungsplattform",
		"reason.sendgrid_rejected":      "von SendGrid abgelehnt",
	},
}
