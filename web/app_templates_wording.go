package web

import "html/template"

// appWordingHTML is the settings page's email wording section: per
// language, the subject, the opening line and the button text, and the
// preview of the real email, in a sandboxed frame (no scripts, no
// requests of its own). It works without JavaScript: "Preview" posts the
// form to /app/settings/preview, which saves nothing; with it,
// /app/preview.js does the same as the merchant types.
const appWordingHTML = `
{{define "wording"}}{{$f := .}}
<s-section><fieldset id="wording"><legend>{{t "wording.legend"}}</legend>
<p class="hint">{{t "wording.hint"}}</p>
{{range $f.WordingLangs}}
<details{{if .Open}} open{{end}} id="wording-{{.Lang}}" style="margin:.35rem 0"><summary lang="{{.Lang}}">{{.Name}}</summary>
{{range .Fields}}{{template "field" (dict "Form" $f "Name" .Name "Hint" (tf "wording.empty" .Default))}}{{end}}
</details>
{{end}}
<label for="f-preview_lang">{{t "wording.preview_in"}}</label>
<select id="f-preview_lang" name="preview_lang" style="font:inherit;padding:.3rem">{{range $f.Languages}}
<option value="{{.Lang}}"{{if eq .Lang (index $f.Values "preview_lang")}} selected{{end}}>{{.Name}}</option>{{end}}
</select>
<p><button type="submit" formaction="/app/settings/preview#email-preview" id="preview">{{t "wording.preview"}}</button> <button type="submit">{{t "settings.save"}}</button></p>
{{with $f.Preview}}
<section aria-labelledby="preview-heading" id="email-preview">
<h2 id="preview-heading">{{t "wording.preview.heading"}}</h2>
<p><strong>{{t "wording.preview.subject"}}</strong> <span id="preview-subject">{{.Subject}}</span></p>
<iframe title="{{t "wording.preview.frame"}}" sandbox srcdoc="{{.HTML}}" style="width:100%;height:26rem;border:1px solid #c9ccd1;border-radius:4px"></iframe>
</section>
{{end}}
</fieldset></s-section>
<script src="/app/preview.js" defer></script>
{{end}}
`

// The wording section is parsed into the merchant pages' templates.
var _ = template.Must(appTemplates.Parse(appWordingHTML))
