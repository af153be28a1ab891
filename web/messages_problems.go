package web

import (
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/store"
)

// The settings problems that package store finds (store.FieldError), in
// the merchant's language, keyed "problem."+code. English is
// store.FieldText's, its one home; a code the web layer already says in
// its own words (problemAlias) uses that text.
func init() {
	en := locale.Messages{}
	for code, text := range store.FieldText {
		if _, ok := problemAlias[code]; !ok {
			en["problem."+code] = text
		}
	}
	merchantText.Add(locale.Default, en)
	for lang, m := range problemText {
		merchantText.Add(lang, m)
	}
}

// problemAlias maps a store code to the web's own text of the same problem.
var problemAlias = map[string]string{
	"delay_negative": "settings.error.negative",
	"consent_mode":   "settings.error.consent",
	"email_per":      "settings.error.email_per",
}

// problemIn says p in lang; a problem without a code (or one this catalog
// lacks) shows its English.
func problemIn(lang string, p *store.FieldError) string {
	key := "problem." + p.Code
	if k, ok := problemAlias[p.Code]; ok {
		key = k
	}
	if p.Code == "" || !merchantText.Has(key) {
		return p.Msg
	}
	return trLang(lang, key, p.Args...)
}

var problemText = map[string]locale.Messages{
	"pt-BR": {
		"problem.delay_too_long":          "os prazos podem ter no máximo 365 dias",
		"problem.subject_one_line":        "o assunto deve ter uma só linha, de 1 a 200 caracteres",
		"problem.plain_text_no_html":      "use texto simples: < e > não são permitidos, pois HTML não é aceito",
		"problem.subject_placeholder":     "o assunto só pode usar o marcador {order}",
		"problem.window_start_range":      "a janela de envio deve começar entre 00:00 e 23:59",
		"problem.window_end_range":        "a janela de envio deve terminar entre 00:00 e 23:59",
		"problem.max_emails_range":        "de 0 a 50 e-mails por cliente em 30 dias (0: sem limite)",
		"problem.max_products_range":      "um e-mail pergunta sobre 1 a 10 produtos",
		"problem.excluded_products_n":     "no máximo 500 produtos excluídos",
		"problem.excluded_product_id":     "%d não é um ID de produto da Shopify (um número positivo)",
		"problem.excluded_tags_n":         "no máximo 100 tags excluídas",
		"problem.excluded_tag":            "a tag %q deve ter de 1 a 255 caracteres, sem vírgulas nem espaços no início ou no fim",
		"problem.time_zone":               "%q não é um fuso horário IANA, como America/Sao_Paulo ou Europe/Berlin",
		"problem.review_url_placeholder":  "o modelo do link de avaliação tem um marcador desconhecido, %s (use {shop}, {product_id}, {handle})",
		"problem.review_url_https":        "o modelo do link de avaliação %q deve ser um URL https://",
		"problem.review_url_host":         "o modelo do link de avaliação %q deve escrever o domínio por extenso, ou usar {shop}: sem marcador, nome de usuário ou porta no domínio",
		"problem.review_url_off_shop":     "os links de avaliação devem ficar nos domínios da sua loja ({shop}, ou o domínio principal na Shopify) ou em uma plataforma de avaliações (%s); %s não é nenhum deles",
		"problem.keep_too_short":          "guardar os pedidos de avaliação por %s é menos que o mínimo de %s",
		"problem.keep_too_long":           "guardar os pedidos de avaliação por %s é mais que o máximo de %s",
		"problem.timing_wait":             "pedidos de avaliação guardados por %s expirariam antes do último e-mail: os prazos desta loja precisam de pelo menos %s (alternativo %s + após a entrega %s + margem %s); guarde-os por mais tempo ou encurte os prazos",
		"problem.timing_wait_reminder":    "pedidos de avaliação guardados por %s expirariam antes do último e-mail: os prazos desta loja precisam de pelo menos %s (alternativo %s + após a entrega %s + lembrete %s + margem %s); guarde-os por mais tempo ou encurte os prazos",
		"problem.wording_language":        "%q não é um idioma em que o Candor escreve",
		"problem.wording_english_subject": "o assunto em inglês é o campo Assunto acima",
		"problem.wording_plain_text":      "use texto simples",
		"problem.wording_too_long":        "use no máximo %d caracteres (este tem %d)",
		"problem.wording_one_line":        "use uma só linha de texto simples, sem quebras de linha nem tabulações",
		"problem.wording_button_plain":    "use texto simples: sem marcadores nem { } aqui",
		"problem.wording_placeholder":     "o único marcador é {order}, o nome do pedido; nenhum outro { } é permitido, e não há marcador para o nome do cliente nem outros dados pessoais",
	},
	"es": {
		"problem.delay_too_long":          "los plazos pueden ser de 365 días como máximo",
		"problem.subject_one_line":        "el asunto debe ser una sola línea de 1 a 200 caracteres",
		"problem.plain_text_no_html":      "usa texto sin formato: < y > no están permitidos, porque no se acepta HTML",
		"problem.subject_placeholder":     "el asunto solo puede usar el marcador {order}",
		"problem.window_start_range":      "la franja de envío debe empezar entre las 00:00 y las 23:59",
		"problem.window_end_range":        "la franja de envío debe terminar entre las 00:00 y las 23:59",
		"problem.max_emails_range":        "de 0 a 50 correos por cliente en 30 días (0: sin límite)",
		"problem.max_products_range":      "un correo pregunta por 1 a 10 productos",
		"problem.excluded_products_n":     "500 productos excluidos como máximo",
		"problem.excluded_product_id":     "%d no es un ID de producto de Shopify (un número positivo)",
		"problem.excluded_tags_n":         "100 etiquetas excluidas como máximo",
		"problem.excluded_tag":            "la etiqueta %q debe tener de 1 a 255 caracteres, sin comas ni espacios al principio o al final",
		"problem.time_zone":               "%q no es una zona horaria IANA, como Europe/Madrid o America/Mexico_City",
		"problem.review_url_placeholder":  "la plantilla del enlace de reseña tiene un marcador desconocido, %s (usa {shop}, {product_id}, {handle})",
		"problem.review_url_https":        "la plantilla del enlace de reseña %q debe ser una URL https://",
		"problem.review_url_host":         "la plantilla del enlace de reseña %q debe escribir el dominio tal cual, o usar {shop}: sin marcador, nombre de usuario ni puerto en el dominio",
		"problem.review_url_off_shop":     "los enlaces de reseña deben quedarse en los dominios de tu tienda ({shop}, o tu dominio principal en Shopify) o en una plataforma de reseñas (%s); %s no es ninguno de ellos",
		"problem.keep_too_short":          "guardar las solicitudes de reseña %s es menos que el mínimo de %s",
		"problem.keep_too_long":           "guardar las solicitudes de reseña %s es más que el máximo de %s",
		"problem.timing_wait":             "las solicitudes de reseña guardadas %s caducarían antes de su último correo: los plazos de esta tienda necesitan al menos %s (alternativo %s + después de la entrega %s + margen %s); guárdalas más tiempo o acorta los plazos",
		"problem.timing_wait_reminder":    "las solicitudes de reseña guardadas %s caducarían antes de su último correo: los plazos de esta tienda necesitan al menos %s (alternativo %s + después de la entrega %s + recordatorio %s + margen %s); guárdalas más tiempo o acorta los plazos",
		"problem.wording_language":        "%q no es un idioma en el que Candor escriba",
		"problem.wording_english_subject": "el asunto en inglés es el campo Asunto de arriba",
		"problem.wording_plain_text":      "usa texto sin formato",
		"problem.wording_too_long":        "usa %d caracteres como máximo (este tiene %d)",
		"problem.wording_one_line":        "usa una sola línea de texto sin formato, sin saltos de línea ni tabulaciones",
		"problem.wording_button_plain":    "usa texto sin formato: aquí no hay marcadores ni { }",
		"problem.wording_placeholder":     "el único marcador es {order}, el nombre del pedido; no se permite ningún otro { }, y no hay ninguno para el nombre del cliente ni otros datos personales",
	},
	"fr": {
		"problem.delay_too_long":          "les délais ne peuvent pas dépasser 365 jours",
		"problem.subject_one_line":        "l'objet doit tenir sur une ligne, de 1 à 200 caractères",
		"problem.plain_text_no_html":      "utilisez du texte brut : < et > ne sont pas autorisés, car le HTML n'est pas accepté",
		"problem.subject_placeholder":     "l'objet ne peut utiliser que la variable {order}",
		"problem.window_start_range":      "la plage d'envoi doit commencer entre 00:00 et 23:59",
		"problem.window_end_range":        "la plage d'envoi doit se terminer entre 00:00 et 23:59",
		"problem.max_emails_range":        "de 0 à 50 e-mails par client sur 30 jours (0 : sans limite)",
		"problem.max_products_range":      "un e-mail porte sur 1 à 10 produits",
		"problem.excluded_products_n":     "500 produits exclus au maximum",
		"problem.excluded_product_id":     "%d n'est pas un ID de produit Shopify (un nombre positif)",
		"problem.excluded_tags_n":         "100 balises exclues au maximum",
		"problem.excluded_tag":            "la balise %q doit faire de 1 à 255 caractères, sans virgule ni espace au début ou à la fin",
		"problem.time_zone":               "%q n'est pas un fuseau horaire IANA, comme Europe/Paris ou America/Montreal",
		"problem.review_url_placeholder":  "le modèle du lien d'avis contient une variable inconnue, %s (utilisez {shop}, {product_id}, {handle})",
		"problem.review_url_https":        "le modèle du lien d'avis %q doit être une URL https://",
		"problem.review_url_host":         "le modèle du lien d'avis %q doit écrire le domaine en toutes lettres, ou utiliser {shop} : ni variable, ni nom d'utilisateur, ni port dans le domaine",
		"problem.review_url_off_shop":     "les liens d'avis doivent rester sur les domaines de votre boutique ({shop}, ou votre domaine principal dans Shopify) ou sur une plateforme d'avis (%s) ; %s n'est ni l'un ni l'autre",
		"problem.keep_too_short":          "conserver les demandes d'avis %s, c'est moins que le minimum de %s",
		"problem.keep_too_long":           "conserver les demandes d'avis %s, c'est plus que le maximum de %s",
		"problem.timing_wait":             "des demandes d'avis conservées %s expireraient avant leur dernier e-mail : les délais de cette boutique demandent au moins %s (repli %s + délai %s + marge %s) ; conservez-les plus longtemps ou raccourcissez les délais",
		"problem.timing_wait_reminder":    "des demandes d'avis conservées %s expireraient avant leur dernier e-mail : les délais de cette boutique demandent au moins %s (repli %s + délai %s + relance %s + marge %s) ; conservez-les plus longtemps ou raccourcissez les délais",
		"problem.wording_language":        "%q n'est pas une langue dans laquelle Candor écrit",
		"problem.wording_english_subject": "l'objet en anglais est le champ Objet ci-dessus",
		"problem.wording_plain_text":      "utilisez du texte brut",
		"problem.wording_too_long":        "utilisez %d caractères au maximum (ce texte en a %d)",
		"problem.wording_one_line":        "utilisez une seule ligne de texte brut, sans saut de ligne ni tabulation",
		"problem.wording_button_plain":    "utilisez du texte brut : ni variable ni { } ici",
		"problem.wording_placeholder":     "la seule variable est {order}, le nom de la commande ; aucune autre { } n'est autorisée, et il n'y en a pas pour le nom du client ni pour d'autres données personnelles",
	},
	"it": {
		"problem.delay_too_long":          "i ritardi possono essere al massimo di 365 giorni",
		"problem.subject_one_line":        "l'oggetto deve stare su una riga, da 1 a 200 caratteri",
		"problem.plain_text_no_html":      "usa testo semplice: < e > non sono ammessi, perché l'HTML non è accettato",
		"problem.subject_placeholder":     "l'oggetto può usare solo il segnaposto {order}",
		"problem.window_start_range":      "la fascia di invio deve iniziare tra le 00:00 e le 23:59",
		"problem.window_end_range":        "la fascia di invio deve finire tra le 00:00 e le 23:59",
		"problem.max_emails_range":        "da 0 a 50 email per cliente in 30 giorni (0: nessun limite)",
		"problem.max_products_range":      "un'email chiede di 1-10 prodotti",
		"problem.excluded_products_n":     "al massimo 500 prodotti esclusi",
		"problem.excluded_product_id":     "%d non è un ID prodotto di Shopify (un numero positivo)",
		"problem.excluded_tags_n":         "al massimo 100 tag esclusi",
		"problem.excluded_tag":            "il tag %q deve avere da 1 a 255 caratteri, senza virgole né spazi all'inizio o alla fine",
		"problem.time_zone":               "%q non è un fuso orario IANA, come Europe/Rome o Europe/Berlin",
		"problem.review_url_placeholder":  "il modello del link di recensione ha un segnaposto sconosciuto, %s (usa {shop}, {product_id}, {handle})",
		"problem.review_url_https":        "il modello del link di recensione %q deve essere un URL https://",
		"problem.review_url_host":         "il modello del link di recensione %q deve scrivere il dominio per esteso, o usare {shop}: niente segnaposto, nome utente o porta nel dominio",
		"problem.review_url_off_shop":     "i link di recensione devono restare sui domini del tuo negozio ({shop}, o il tuo dominio principale su Shopify) o su una piattaforma di recensioni (%s); %s non è né l'uno né l'altra",
		"problem.keep_too_short":          "conservare le richieste di recensione per %s è meno del minimo di %s",
		"problem.keep_too_long":           "conservare le richieste di recensione per %s è più del massimo di %s",
		"problem.timing_wait":             "richieste di recensione conservate per %s scadrebbero prima della loro ultima email: le tempistiche di questo negozio richiedono almeno %s (alternativo %s + ritardo %s + margine %s); conservale più a lungo o accorcia le tempistiche",
		"problem.timing_wait_reminder":    "richieste di recensione conservate per %s scadrebbero prima della loro ultima email: le tempistiche di questo negozio richiedono almeno %s (alternativo %s + ritardo %s + promemoria %s + margine %s); conservale più a lungo o accorcia le tempistiche",
		"problem.wording_language":        "%q non è una lingua in cui Candor scrive",
		"problem.wording_english_subject": "l'oggetto in inglese è il campo Oggetto qui sopra",
		"problem.wording_plain_text":      "usa testo semplice",
		"problem.wording_too_long":        "usa al massimo %d caratteri (questo ne ha %d)",
		"problem.wording_one_line":        "usa una sola riga di testo semplice, senza a capo né tabulazioni",
		"problem.wording_button_plain":    "usa testo semplice: qui niente segnaposto né { }",
		"problem.wording_placeholder":     "l'unico segnaposto è {order}, il nome dell'ordine; nessun'altra { } è ammessa, e non ce n'è uno per il nome del cliente né per altri dati personali",
	},
	"de": {
		"problem.delay_too_long":          "Wartezeiten dürfen höchstens 365 Tage betragen",
		"problem.subject_one_line":        "der Betreff muss eine Zeile mit 1 bis 200 Zeichen sein",
		"problem.plain_text_no_html":      "verwende reinen Text: < und > sind nicht erlaubt, da kein HTML angenommen wird",
		"problem.subject_placeholder":     "der Betreff darf nur den Platzhalter {order} verwenden",
		"problem.window_start_range":      "das Versandfenster muss zwischen 00:00 und 23:59 beginnen",
		"problem.window_end_range":        "das Versandfenster muss zwischen 00:00 und 23:59 enden",
		"problem.max_emails_range":        "0 bis 50 E-Mails pro Kunde in 30 Tagen (0: keine Obergrenze)",
		"problem.max_products_range":      "eine E-Mail fragt nach 1 bis 10 Produkten",
		"problem.excluded_products_n":     "höchstens 500 ausgeschlossene Produkte",
		"problem.excluded_product_id":     "%d ist keine Shopify-Produkt-ID (eine positive Zahl)",
		"problem.excluded_tags_n":         "höchstens 100 ausgeschlossene Tags",
		"problem.excluded_tag":            "das Tag %q muss 1 bis 255 Zeichen lang sein, ohne Kommas und ohne Leerzeichen am Anfang oder Ende",
		"problem.time_zone":               "%q ist keine IANA-Zeitzone wie Europe/Berlin oder Europe/Vienna",
		"problem.review_url_placeholder":  "die Vorlage des Bewertungslinks hat einen unbekannten Platzhalter, %s (verwende {shop}, {product_id}, {handle})",
		"problem.review_url_https":        "die Vorlage des Bewertungslinks %q muss eine https://-URL sein",
		"problem.review_url_host":         "die Vorlage des Bewertungslinks %q muss die Domain ausschreiben oder {shop} verwenden: kein Platzhalter, Benutzername oder Port in der Domain",
		"problem.review_url_off_shop":     "Bewertungslinks müssen auf den Domains deines Shops ({shop} oder deine primäre Domain in Shopify) oder auf einer Bewertungsplattform (%s) bleiben; %s ist keins von beiden",
		"problem.keep_too_short":          "Bewertungsanfragen %s aufzubewahren ist kürzer als das Minimum von %s",
		"problem.keep_too_long":           "Bewertungsanfragen %s aufzubewahren ist länger als das Maximum von %s",
		"problem.timing_wait":             "Bewertungsanfragen, die %s aufbewahrt werden, würden vor ihrer letzten E-Mail ablaufen: Die Zeitpunkte dieses Shops brauchen mindestens %s (Ersatzwartezeit %s + Wartezeit %s + Puffer %s); bewahre sie länger auf oder verkürze die Zeitpunkte",
		"problem.timing_wait_reminder":    "Bewertungsanfragen, die %s aufbewahrt werden, würden vor ihrer letzten E-Mail ablaufen: Die Zeitpunkte dieses Shops brauchen mindestens %s (Ersatzwartezeit %s + Wartezeit %s + Erinnerung %s + Puffer %s); bewahre sie länger auf oder verkürze die Zeitpunkte",
		"problem.wording_language":        "%q ist keine Sprache, in der Candor schreibt",
		"problem.wording_english_subject": "der englische Betreff ist das Feld Betreff oben",
		"problem.wording_plain_text":      "verwende reinen Text",
		"problem.wording_too_long":        "verwende höchstens %d Zeichen (dieser Text hat %d)",
		"problem.wording_one_line":        "verwende eine Zeile reinen Text, ohne Zeilenumbrüche oder Tabulatoren",
		"problem.wording_button_plain":    "verwende reinen Text: hier keine Platzhalter und keine { }",
		"problem.wording_placeholder":     "der einzige Platzhalter ist {order}, der Bestellname; keine anderen { } sind erlaubt, und es gibt keinen für den Namen des Kunden oder andere personenbezogene Daten",
	},
}
