package review

import (
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/store"
)

// The review email's text keys. KeySubject, KeyOpening and KeyButton are
// the shipped defaults a shop may replace per language (store.Wording,
// whose field names they are); the rest is always Candor's.
const (
	KeySubject         = store.WordingSubject // {order}: the order name
	KeyOpening         = store.WordingOpening // {order}: the order name
	KeyButton          = store.WordingButton  // each product's review link
	KeyReminderPrefix  = "reminder_prefix"    // before a reminder's subject
	KeyReminderLine    = "reminder_line"      // a reminder's opening; {order}: the order name
	KeyAsk             = "ask"                // above the products
	KeyUnsubscribeAsk  = "unsubscribe_ask"    // before the unsubscribe link
	KeyUnsubscribeLink = "unsubscribe_link"   // the unsubscribe link's text
	KeyObjection       = "objection"          // the EU soft opt-in's objection notice
	KeySampleProduct   = "sample_product"     // the test email's product
)

// EmailText is the review email's text in every supported language, written as
// a shop there would write to its customers: pt-BR with "você", es and it
// with the informal "tú"/"tu" their shops use, fr with "vous", de with
// "Sie" and the objection wording German shops use for UWG § 7(3) no. 4.
var EmailText = locale.NewCatalog().
	Add("en", locale.Messages{
		KeySubject:         store.DefaultSettings("").Subject,
		KeyOpening:         "Thank you for your order {order}.",
		KeyButton:          "Write a review",
		KeyReminderPrefix:  "Reminder: ",
		KeyReminderLine:    "A gentle reminder about your order {order}.",
		KeyAsk:             "How did it turn out? You can review each product with one click:",
		KeyUnsubscribeAsk:  "Don't want these emails?",
		KeyUnsubscribeLink: "Unsubscribe",
		KeyObjection:       "We email you about your purchase because you are our customer. You can object to these emails at any time, at no cost other than your usual connection charges, with the unsubscribe link above.",
		KeySampleProduct:   "Sample product",
	}).
	Add("pt-BR", locale.Messages{
		KeySubject:         "O que você achou do seu pedido {order}?",
		KeyOpening:         "Obrigado pelo seu pedido {order}.",
		KeyButton:          "Avaliar produto",
		KeyReminderPrefix:  "Lembrete: ",
		KeyReminderLine:    "Só passando para lembrar do seu pedido {order}.",
		KeyAsk:             "Conte para a gente o que achou: você pode avaliar cada produto com apenas um clique:",
		KeyUnsubscribeAsk:  "Não quer mais receber estes e-mails?",
		KeyUnsubscribeLink: "Cancelar inscrição",
		KeyObjection:       "Você está recebendo este e-mail sobre a sua compra porque é nosso cliente. Você pode se opor a estes e-mails a qualquer momento, sem nenhum custo além da sua tarifa normal de conexão, pelo link de cancelamento acima.",
		KeySampleProduct:   "Produto de exemplo",
	}).
	Add("es", locale.Messages{
		KeySubject:         "¿Qué tal tu pedido {order}?",
		KeyOpening:         "Gracias por tu pedido {order}.",
		KeyButton:          "Escribir una reseña",
		KeyReminderPrefix:  "Recordatorio: ",
		KeyReminderLine:    "Solo un recordatorio sobre tu pedido {order}.",
		KeyAsk:             "¿Qué te ha parecido? Puedes valorar cada producto con un solo clic:",
		KeyUnsubscribeAsk:  "¿No quieres recibir estos correos?",
		KeyUnsubscribeLink: "Date de baja",
		KeyObjection:       "Te escribimos sobre tu compra porque ya eres cliente de nuestra tienda. Puedes oponerte a recibir estos correos en cualquier momento, sin más coste que el de tu conexión habitual, con el enlace para darte de baja que aparece arriba.",
		KeySampleProduct:   "Producto de ejemplo",
	}).
	Add("fr", locale.Messages{
		KeySubject:         "Votre commande {order} vous a-t-elle plu\u00a0?",
		KeyOpening:         "Merci pour votre commande {order}.",
		KeyButton:          "Donner mon avis",
		KeyReminderPrefix:  "Rappel\u00a0: ",
		KeyReminderLine:    "Petit rappel concernant votre commande {order}.",
		KeyAsk:             "Qu'en avez-vous pensé\u00a0? Vous pouvez donner votre avis sur chaque produit en un clic\u00a0:",
		KeyUnsubscribeAsk:  "Vous ne souhaitez plus recevoir ces e-mails\u00a0?",
		KeyUnsubscribeLink: "Se désabonner",
		KeyObjection:       "Nous vous écrivons au sujet de votre achat parce que vous êtes client de notre boutique. Vous pouvez vous opposer à ces e-mails à tout moment, sans frais autres que ceux de votre connexion habituelle, grâce au lien de désabonnement ci-dessus.",
		KeySampleProduct:   "Produit d'exemple",
	}).
	Add("it", locale.Messages{
		KeySubject:         "Ti è piaciuto il tuo ordine {order}?",
		KeyOpening:         "Grazie per il tuo ordine {order}.",
		KeyButton:          "Scrivi una recensione",
		KeyReminderPrefix:  "Promemoria: ",
		KeyReminderLine:    "Un piccolo promemoria sul tuo ordine {order}.",
		KeyAsk:             "Com'è andata? Puoi recensire ogni prodotto con un clic:",
		KeyUnsubscribeAsk:  "Non vuoi più ricevere queste email?",
		KeyUnsubscribeLink: "Annulla l'iscrizione",
		KeyObjection:       "Ti scriviamo in merito al tuo acquisto perché sei già nostro cliente. Puoi opporti a queste email in qualsiasi momento, senza costi diversi da quelli della tua normale connessione, con il link per annullare l'iscrizione qui sopra.",
		KeySampleProduct:   "Prodotto di esempio",
	}).
	Add("de", locale.Messages{
		KeySubject:         "Wie gefällt Ihnen Ihre Bestellung {order}?",
		KeyOpening:         "Vielen Dank für Ihre Bestellung {order}.",
		KeyButton:          "Jetzt bewerten",
		KeyReminderPrefix:  "Erinnerung: ",
		KeyReminderLine:    "Eine kurze Erinnerung an Ihre Bestellung {order}.",
		KeyAsk:             "Wie zufrieden sind Sie? Mit einem Klick können Sie jedes Produkt bewerten:",
		KeyUnsubscribeAsk:  "Sie möchten diese E-Mails nicht mehr erhalten?",
		KeyUnsubscribeLink: "Abmelden",
		KeyObjection:       "Wir schreiben Ihnen zu Ihrem Kauf, weil Sie bei uns Kunde sind. Sie können der Verwendung Ihrer E-Mail-Adresse für diese E-Mails jederzeit widersprechen, ohne dass hierfür andere als die Übermittlungskosten nach den Basistarifen entstehen – zum Beispiel über den Abmeldelink oben.",
		KeySampleProduct:   "Beispielprodukt",
	})
