package web

import "html/template"

// appWordingHTML is the settings page's email wording section: per
// language, the subject, the opening line and the button text, and the
// preview of the real email, in a sandboxed frame (no scripts, no
// requests of its own). It works without JavaScript: "Preview" posts the
// form to /app/settings/preview, which saves nothing.
const appWordingHTML = `
{{define "wording"}}{{$f := .}}
<fieldset id="wording"><legend>Email wording</legend>
<p class="hint">Each customer gets the email in the language they ordered in, else your shop's primary language, else English. Here you can write your own subject, opening line and button text per language: plain text only, no HTML. In the subject and the opening line, {order} stands for the order name; there is no placeholder for a customer's name or anything else about them. An empty field uses the text shown under it. The English subject is the Subject field above. The opening line is the first email's; a reminder opens with Candor's own reminder line.</p>
{{range $f.WordingLangs}}
<details{{if .Open}} open{{end}} id="wording-{{.Lang}}" style="margin:.35rem 0"><summary lang="{{.Lang}}">{{.Name}}</summary>
{{range .Fields}}{{template "field" (dict "Form" $f "Name" .Name "Hint" (printf "Empty: %s" .Default))}}{{end}}
</details>
{{end}}
<label for="f-preview_lang">Preview in</label>
<select id="f-preview_lang" name="preview_lang" style="font:inherit;padding:.3rem">{{range $f.Languages}}
<option value="{{.Lang}}"{{if eq .Lang (index $f.Values "preview_lang")}} selected{{end}}>{{.Name}}</option>{{end}}
</select>
<p><button type="submit" formaction="/app/settings/preview#email-preview" id="preview">Preview</button> <button type="submit">Save settings</button></p>
{{with $f.Preview}}
<section aria-labelledby="preview-heading" id="email-preview">
<h2 id="preview-heading">Preview: the email for a sample order</h2>
<p><strong>Subject:</strong> <span id="preview-subject">{{.Subject}}</span></p>
<iframe title="Email preview" sandbox srcdoc="{{.HTML}}" style="width:100%;height:26rem;border:1px solid #c9ccd1;border-radius:4px"></iframe>
</section>
{{end}}
</fieldset>
{{end}}
`

// The wording section is parsed into the merchant pages' templates.
var _ = template.Must(appTemplates.Parse(appWordingHTML))
