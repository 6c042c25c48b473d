package session

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authkit/authkit/cookie"
)

// The header commit: just before the first byte of the response the
// writer saves the session and adds its headers (the cookie or header
// carrying the ID, Vary, Cache-Control); when the handler returns, changes
// made after the response started are saved.

// commitHeaders saves the session and sets the response headers; the
// writer calls it just before the first byte of the response.
func (st *state) commitHeaders(rw http.ResponseWriter) error {
	st.lock()
	defer st.unlock()
	st.headersSent = true
	if st.dirty() {
		if err := st.save(st.saveCtx()); err != nil {
			return err
		}
	}
	st.writeHeaders(rw)
	return nil
}

func (st *state) writeHeaders(rw http.ResponseWriter) {
	m := st.m
	h := rw.Header()
	if st.loaded || st.present {
		if len(h["Vary"]) == 0 {
			st.vary[0] = m.vary
			h["Vary"] = st.vary[:]
		} else {
			addVary(h, m.vary)
		}
	}
	switch {
	case st.sendID && st.stored:
		if st.viaHeader {
			h.Set(m.header, string(st.id))
		} else {
			t := m.cookie
			if st.rec.flags&flagRemember != 0 {
				left := time.Duration(st.rec.absolute-m.nowMS()) * time.Millisecond
				t.MaxAge = min(max(left.Truncate(time.Second), time.Second), cookie.MaxAgeLimit)
			}
			if err := t.Set(rw, string(st.id)); err != nil {
				m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot set session cookie", slog.Any("error", err))
			}
		}
		h.Set("Cache-Control", "no-store")
	case st.clear && st.present && !st.viaHeader && !st.dup:
		if err := m.cookie.Delete(rw); err != nil {
			m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot delete session cookie", slog.Any("error", err))
		}
		h.Set("Cache-Control", "no-store")
	case st.loaded && (st.present || st.stored):
		st.markPrivate(h)
	}
	st.sendID, st.clear = false, false
}

// markPrivate makes a response that depends on the session uncacheable by
// shared caches — Vary: Cookie alone does not stop a cache that ignores
// Vary — unless the handler already said private or no-store. A "public"
// directive is replaced; the handler's other directives are kept.
func (st *state) markPrivate(h http.Header) {
	cc := h.Values("Cache-Control")
	if len(cc) == 0 {
		st.cacheControl[0] = "private"
		h["Cache-Control"] = st.cacheControl[:]
		return
	}
	var keep []string
	for _, line := range cc {
		for d := range strings.SplitSeq(line, ",") {
			d = strings.TrimSpace(d)
			name, _, _ := strings.Cut(d, "=")
			switch strings.ToLower(name) {
			case "private", "no-store":
				return
			case "public", "":
				continue
			}
			keep = append(keep, d)
		}
	}
	h.Set("Cache-Control", strings.Join(append([]string{"private"}, keep...), ", "))
}

func addVary(h http.Header, v string) {
	for _, x := range h["Vary"] {
		if x == v {
			return
		}
	}
	h["Vary"] = append(h["Vary"], v)
}

// finish runs when the handler returns: it commits if nothing was written,
// then saves changes made after the response started.
func (st *state) finish() {
	if !st.w.wrote {
		st.w.before()
	}
	st.lock()
	defer st.unlock()
	if !st.w.failed && st.stored && st.dirty() {
		if err := st.save(st.saveCtx()); err != nil {
			st.m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot save changes made after the response started",
				slog.Any("error", err))
		}
	}
	st.done = true
}
