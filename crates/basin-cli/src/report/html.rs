//! The HTML page: sections of headings, paragraphs, tables, figures (inline SVG) and
//! preformatted text, with one inline style sheet. Everything interpolated is escaped.

use crate::CliError;
use crate::plots::{Figure, svg_string};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table of text cells, rendered as HTML or as Markdown from the same rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// As an HTML `<table>`.
    pub fn html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.header {
            s += &format!("<th>{}</th>", escape(h));
        }
        s += "</tr></thead>\n<tbody>\n";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                s += &format!("<td>{}</td>", escape(c));
            }
            s += "</tr>\n";
        }
        s + "</tbody>\n</table>\n"
    }

    /// As a Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = format!("| {} |\n|{}\n", self.header.join(" | "), "---|".repeat(self.header.len()));
        for r in &self.rows {
            s += &format!("| {} |\n", r.join(" | "));
        }
        s
    }
}

/// One section of a page: an `<h2>` with an id and its content.
pub struct Section {
    id: String,
    heading: String,
    body: String,
}

impl Section {
    /// An empty section.
    pub fn new(id: &str, heading: &str) -> Section {
        Section { id: id.into(), heading: heading.into(), body: String::new() }
    }

    /// A paragraph of text.
    pub fn text(&mut self, t: &str) -> &mut Self {
        self.body += &format!("<p>{}</p>\n", escape(t));
        self
    }

    /// A sub-heading.
    pub fn subheading(&mut self, t: &str) -> &mut Self {
        self.body += &format!("<h3>{}</h3>\n", escape(t));
        self
    }

    /// A table.
    pub fn table(&mut self, t: &Table) -> &mut Self {
        self.body += &t.html();
        self
    }

    /// Preformatted text (a config file).
    pub fn pre(&mut self, t: &str) -> &mut Self {
        self.body += &format!("<pre>{}</pre>\n", escape(t));
        self
    }

    /// A figure drawn inline as SVG, with a caption. A figure that cannot be drawn (no data)
    /// becomes a note instead, so one bad series does not lose the rest of the report.
    pub fn figure(&mut self, fig: &impl Figure, caption: &str) -> &mut Self {
        match svg_string(fig, caption) {
            Ok(svg) => {
                // plotters writes an XML prolog-free <svg> element; it is valid inline HTML
                self.body += &format!("<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", strip_prolog(&svg), escape(caption));
            }
            Err(e) => {
                self.body += &format!("<p class=\"note\">{}</p>\n", escape(&e.message));
            }
        }
        self
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

/// The `<svg …>…</svg>` element of an SVG document.
fn strip_prolog(svg: &str) -> &str {
    svg.find("<svg").map(|i| &svg[i..]).unwrap_or(svg)
}

/// A whole page.
pub struct Page {
    /// `<title>` and `<h1>`.
    pub title: String,
    /// One line under the title (what, when, which version).
    pub subtitle: String,
    /// Sections in order.
    pub sections: Vec<Section>,
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
th{background:#f3f3f3}figure{display:inline-block;vertical-align:top;width:49%;margin:1em 0}figure svg{width:100%;height:auto}figcaption{font-size:.9em;color:#555}\
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}nav a{margin-right:1em}.note{color:#777;font-style:italic}";

impl Page {
    /// The page as one self-contained HTML document.
    pub fn render(&self) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n<nav>",
            escape(&self.title),
            escape(&self.title),
            escape(&self.subtitle)
        );
        for sec in &self.sections {
            s += &format!("<a href=\"#{}\">{}</a>", escape(&sec.id), escape(&sec.heading));
        }
        s += "</nav>\n";
        for sec in &self.sections {
            s += &format!("<section id=\"{}\">\n<h2>{}</h2>\n", escape(&sec.id), escape(&sec.heading));
            if sec.is_empty() {
                s += "<p class=\"note\">Nothing recorded for this section.</p>\n";
            }
            s += &sec.body;
            s += "</section>\n";
        }
        s + "</body>\n</html>\n"
    }

    /// Writes the page to `path` atomically.
    pub fn write(&self, path: &std::path::Path) -> Result<(), CliError> {
        Ok(basin_core::train::checkpoint::write_atomic(path, self.render().as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_tables_render_both_ways() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let mut t = Table::new(&["a", "b<"]);
        t.row(vec!["1".into(), "<script>".into()]);
        assert!(t.html().contains("<th>b&lt;</th>") && t.html().contains("<td>&lt;script&gt;</td>"));
        assert_eq!(t.markdown(), "| a | b< |\n|---|---|\n| 1 | <script> |\n");
        let mut sec = Section::new("s", "S");
        sec.text("x < y");
        let page = Page { title: "T&".into(), subtitle: String::new(), sections: vec![sec, Section::new("e", "Empty")] };
        let html = page.render();
        assert!(html.contains("<p>x &lt; y</p>") && html.contains("<title>T&amp;</title>"));
        assert!(html.contains("Nothing recorded"));
    }
}
