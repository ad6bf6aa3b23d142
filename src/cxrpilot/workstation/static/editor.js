// The report editor: INDICATION, TECHNIQUE, COMPARISON, FINDINGS, IMPRESSION; templates
// (a menu, and F2 for the normal one), macros on F3, F4, F6-F9 (at the cursor, or in their
// section), and finding phrases toggled in and out of FINDINGS by a click (the composer's
// sentence for that finding, from /api/report-templates). Every change goes through the
// browser's editing commands, so Ctrl+Z undoes it, and fires "input" (autosave).
"use strict";

const SECTION_NAMES = CXR.report_sections;  // the server's report sections, in order
const SECTION_ROWS = { indication: 1, technique: 1, comparison: 1, findings: 7, impression: 4 };
const PHRASE_STATUSES = CXR.phrase_statuses;  // the server's phrase statuses, in button order
const PHRASE_LABELS = { uncertain: "possible" };  // a status whose button says something else

class ReportEditor {
  constructor(templates, { onInput } = {}) {
    this.t = templates;
    this.onInput = onInput;
    this.boxes = {};
    this.lastFocused = null;
    for (const name of SECTION_NAMES) {
      const box = el("textarea", { id: name, "aria-label": name.toUpperCase(), spellcheck: "true",
        rows: SECTION_ROWS[name], class: `section-${name}` });
      box.addEventListener("input", () => this.onInput && this.onInput());
      box.addEventListener("focus", () => { this.lastFocused = name; });
      this.boxes[name] = box;
    }
    this.templateSelect = el("select", { "aria-label": "Report template", "data-testid": "template",
      onchange: () => { if (this.templateSelect.value) this.applyTemplate(this.templateSelect.value); this.templateSelect.value = ""; } },
      el("option", { value: "" }, "Template…"),
      ...templates.templates.map(t => el("option", { value: t.key }, t.name + (t.key === templates.normal ? " (F2)" : ""))));
    this.macroSelect = el("select", { "aria-label": "Macro", "data-testid": "macro",
      onchange: () => { if (this.macroSelect.value) this.insertMacro(this.macroSelect.value); this.macroSelect.value = ""; } },
      el("option", { value: "" }, "Macro…"),
      ...templates.macros.map(m => el("option", { value: m.key }, `${m.key} ${m.name}`)));
    window.addEventListener("keydown", (e) => this.onKey(e));
  }

  get readOnly() { return this.boxes.findings.readOnly; }
  set readOnly(v) { for (const b of Object.values(this.boxes)) b.readOnly = v; }

  values() { return Object.fromEntries(SECTION_NAMES.map(n => [n, this.boxes[n].value])); }
  setValues(v) { for (const n of SECTION_NAMES) if (v[n] !== undefined) this.boxes[n].value = v[n]; }

  // The report's body for the API: findings_text, impression_text, indication_text, ...
  body() { return Object.fromEntries(SECTION_NAMES.map(n => [`${n}_text`, this.boxes[n].value])); }

  // Replace a section's whole text, undoably (the browser's insertText), then put the focus back.
  replace(name, text) {
    const box = this.boxes[name], back = document.activeElement;
    if (box.readOnly || box.value === text) return;
    box.focus();
    box.select();
    if (!text) document.execCommand("delete");
    else if (!document.execCommand("insertText", false, text)) {
      box.value = text; box.dispatchEvent(new Event("input"));
    }
    if (back && back !== box && back !== document.body && back.focus) back.focus();
    else if (back !== box) box.blur();
  }

  // Insert text at the cursor of a section (or at its end), with a separating space.
  insert(name, text) {
    const box = this.boxes[name];
    if (box.readOnly) return;
    const focused = document.activeElement === box;
    if (!focused) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
    const before = box.value.slice(0, box.selectionStart);
    const sep = before && !/\s$/.test(before) ? " " : "";
    if (!document.execCommand("insertText", false, sep + text)) {
      box.setRangeText(sep + text, box.selectionStart, box.selectionEnd, "end"); box.dispatchEvent(new Event("input"));
    }
  }

  template(key) { return this.t.templates.find(t => t.key === key); }

  // A template fills the sections it names (INDICATION stays the order's).
  applyTemplate(key) {
    const t = this.template(key);
    if (!t || this.readOnly) return;
    for (const [name, text] of Object.entries(t.sections)) if (name !== "indication" || !this.boxes.indication.value) this.replace(name, text);
    document.body.dataset.template = key;
  }

  insertMacro(key) {
    const m = this.t.macros.find(x => x.key === key);
    if (!m || this.readOnly) return;
    const here = this.lastFocused && document.activeElement === this.boxes[this.lastFocused] ? this.lastFocused : m.section;
    this.insert(here, m.text);
  }

  // The finding's sentence (status present / uncertain / absent) in or out of FINDINGS;
  // putting one in takes the finding's other sentences out. Returns true when it is now in.
  togglePhrase(finding, status) {
    const phrases = this.t.phrases[finding];
    if (!phrases || this.readOnly) return false;
    const sentence = phrases[status];
    let text = this.boxes.findings.value;
    const has = (s) => text.includes(s);
    const cut = (s) => { text = text.replace(s, "").replace(/[ \t]{2,}/g, " ").replace(/^[ \t]+|[ \t]+$/gm, ""); };
    let on;
    if (has(sentence)) { cut(sentence); on = false; }
    else {
      for (const other of Object.values(phrases)) if (other !== sentence && has(other)) cut(other);
      text = text.trimEnd() ? `${text.trimEnd()} ${sentence}` : sentence;
      on = true;
    }
    this.replace("findings", text);
    return on;
  }

  // Which of a finding's sentences FINDINGS holds now (status or null).
  phraseState(finding) {
    const phrases = this.t.phrases[finding] || {}, text = this.boxes.findings.value;
    return Object.keys(phrases).find(s => text.includes(phrases[s])) || null;
  }

  onKey(e) {
    if (this.readOnly || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "w" && !isTyping(e)) {  // write: into FINDINGS, at its end (Tab: the next section)
      e.preventDefault(); const b = this.boxes.findings; b.focus(); b.setSelectionRange(b.value.length, b.value.length);
    } else if (e.key === "F2") { e.preventDefault(); this.applyTemplate(this.t.normal); }
    else if (this.t.macros.some(m => m.key === e.key)) { e.preventDefault(); this.insertMacro(e.key); }
  }

  // The section fields with their headings, and the template / macro menus.
  render() {
    const keys = el("span", { class: "hint" }, el("kbd", {}, "w"), " write · ", el("kbd", {}, "F2"), " normal · ",
      el("kbd", {}, "F3"), "–", el("kbd", {}, "F9"), " macros · ", el("kbd", {}, "Ctrl+Z"), " undo");
    const parts = [el("div", { class: "editor-tools" }, this.templateSelect, this.macroSelect, keys)];
    for (const name of SECTION_NAMES) parts.push(el("label", { for: name }, name.toUpperCase()), this.boxes[name]);
    return parts;
  }

  // Phrase buttons for every finding (no AI: the same for both arms).
  phrasePanel() {
    const rows = Object.keys(this.t.phrases).map(name => {
      const b = (status, label) => el("button", { class: "phrase", "data-finding": name, "data-status": status,
        "aria-pressed": "false", title: this.t.phrases[name][status], onclick: () => { this.togglePhrase(name, status); this.refreshPhrases(); } }, label);
      return el("tr", {}, el("td", { text: name }), el("td", {}, ...PHRASE_STATUSES.map(s => b(s, PHRASE_LABELS[s] || s))));
    });
    this.phraseBox = el("details", { class: "phrases", "data-testid": "phrases" },
      el("summary", {}, "Finding phrases ", el("span", { class: "hint", text: "— click to put a sentence in FINDINGS or take it out" })),
      el("table", {}, el("tbody", {}, ...rows)));
    this.boxes.findings.addEventListener("input", () => this.refreshPhrases());
    return this.phraseBox;
  }

  refreshPhrases() {
    for (const b of document.querySelectorAll("button.phrase, button.finding-phrase")) {
      b.setAttribute("aria-pressed", String(this.phraseState(b.dataset.finding) === b.dataset.status));
    }
  }
}
