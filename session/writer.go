package session

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// errReplaced is what the handler's writes return after a failed save made
// the Manager answer the request itself.
var errReplaced = errors.New("session: response replaced after the session could not be saved")

// writer is the ResponseWriter the Middleware hands to handlers. It never
// buffers: just before the first byte of the response (WriteHeader, Write,
// Flush, ReadFrom, Hijack) it saves the session and adds its headers, then
// passes everything straight through.
type writer struct {
	rw     http.ResponseWriter
	st     *state
	wrote  bool // the session was committed and the final headers released
	failed bool // the save failed and the error handler answered
}

// before commits the session the first time the response is about to
// start. It reports whether the handler's output may go through.
func (w *writer) before() bool {
	if w.wrote {
		return !w.failed
	}
	w.wrote = true
	if err := w.st.commitHeaders(w.rw); err != nil {
		w.failed = true
		w.st.m.handleError(w.rw, w.st.r, err)
		return false
	}
	return true
}

// Header implements [http.ResponseWriter].
func (w *writer) Header() http.Header { return w.rw.Header() }

// WriteHeader implements [http.ResponseWriter]. Informational responses
// (1xx other than 101) pass through without committing the session.
func (w *writer) WriteHeader(code int) {
	if !w.wrote && code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.rw.WriteHeader(code)
		return
	}
	if w.before() {
		w.rw.WriteHeader(code)
	}
}

// Write implements [http.ResponseWriter].
func (w *writer) Write(b []byte) (int, error) {
	if !w.before() {
		return 0, errReplaced
	}
	return w.rw.Write(b)
}

// ReadFrom implements [io.ReaderFrom], so io.Copy can still use sendfile.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if !w.before() {
		return 0, errReplaced
	}
	if rf, ok := w.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.rw}, src)
}

// writerOnly hides every method but Write, so io.Copy does not loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

// Flush implements [http.Flusher].
func (w *writer) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes; [http.ResponseController]
// calls it.
func (w *writer) FlushError() error {
	if !w.before() {
		return errReplaced
	}
	return http.NewResponseController(w.rw).Flush()
}

// Hijack implements [http.Hijacker]. The session is saved first; its
// headers are in Header() for a handler that writes its own response.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.before() {
		return nil, nil, errReplaced
	}
	return http.NewResponseController(w.rw).Hijack()
}

// Unwrap returns the underlying ResponseWriter, for
// [http.ResponseController].
func (w *writer) Unwrap() http.ResponseWriter { return w.rw }
