"""What bench/summarize.py and bench/signed_summarize.py share: reading META and RAW, medians
with their min–max range, and the Markdown pieces (notes, tables, code blocks, the machine table).

Every writer takes `w`, the function that appends one line of the report.
"""

import statistics


# ---------------------------------------------------------------- reading
def parse_kv(fields, keep_bare=True):
    """key=value fields into a dict; a field without "=" maps to "" (or, keep_bare=False, is dropped)."""
    out = {}
    for f in fields:
        k, sep, v = f.partition("=")
        if sep or keep_bare:
            out[k] = v
    return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                meta[k] = v
    return meta


def raw_records(path):
    """(tag, fields after the tag, the line) for each RUN and PREFLIGHT line of RAW."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if parts and parts[0] in ("RUN", "PREFLIGHT"):
                yield parts[0], parts[1:], line.rstrip("\n")


# ---------------------------------------------------------------- numbers
def median(values):
    """Median of the values that are not NaN; NaN when there are none."""
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def grouped(x, digits=0):
    """x with `digits` decimals, thousands separated by a space: 12 345.6"""
    return f"{x:,.{digits}f}".replace(",", " ")


def span(vals, fmt):
    """min–max of vals, each through fmt."""
    return f"{fmt(min(vals))}–{fmt(max(vals))}"


def med_range(values, fmt, empty="n/a", bold=False):
    """Median (min–max) of the values that are not NaN, through fmt; the median alone when there
    is one value, `empty` when there is none; bold: the median in **bold**."""
    vals = [v for v in values if v == v]
    if not vals:
        return empty
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt(m)
    return f"{f'**{fmt(m)}**' if bold else fmt(m)} ({span(vals, fmt)})"


# ---------------------------------------------------------------- Markdown
def note(w, text):
    """A quoted paragraph (a warning above the tables)."""
    w("> " + text)
    w("")


def table_head(w, *cols):
    w("| " + " | ".join(cols) + " |")
    w("|" + "---|" * len(cols))


def fence(w, lines, lang="", indent=""):
    """lines in a fenced code block, all indented by `indent`."""
    w(indent + "```" + lang)
    for line in lines:
        w(indent + line)
    w(indent + "```")


def machine_table(w, head, rows, plain=False):
    """The "Machine and versions" section: a two-column table of (item, value) rows. Values are
    shown with | escaped and "?" for a missing one; plain: as they are."""
    w("## Machine and versions")
    w("")
    table_head(w, *head)
    for k, v in rows:
        if plain:
            w(f"| {k} | {v} |")
            continue
        text = str(v) if v not in (None, "") else "?"
        w("| " + k + " | " + text.replace("|", "\\|") + " |")
