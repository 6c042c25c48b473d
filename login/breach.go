package login

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" // the range API's protocol, not a password hash
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultRangeURL is the k-anonymity range endpoint of the Pwned Passwords
// service; the first five hex digits of a password's SHA-1 are appended.
const DefaultRangeURL = "https://api.pwnedpasswords.com/range/"

// ErrRangeResponse means the range service answered with something that is
// not a range response.
var ErrRangeResponse = errors.New("login: malformed breached-password range response")

// RangeConfig configures a [RangeClient]. The zero value is valid.
type RangeConfig struct {
	// URL is the range endpoint, to which the 5-hex-digit prefix is
	// appended. "" means DefaultRangeURL. It must be https, or http on a
	// loopback address (a local mirror or a test server).
	URL string
	// Client sends the requests. nil means a client with a 5 s timeout.
	Client *http.Client
	// NoPadding turns off response padding. By default each request asks
	// the service to pad its answer with fake entries (the Add-Padding
	// header), so the response size does not reveal the prefix's bucket.
	NoPadding bool
	// MinCount is how many times a password must have been seen in
	// breaches to be refused. 0 means 1.
	MinCount int
	// CacheSize is how many prefixes' answers are kept. 0 means 128;
	// negative turns the cache off.
	CacheSize int
	// CacheLifetime is how long an answer is kept. 0 means one hour.
	CacheLifetime time.Duration
	// MaxResponseSize bounds a response body. 0 means 1 MiB (a padded
	// answer is about 40 KB).
	MaxResponseSize int64
	// FailOpen accepts the password when the service cannot be asked
	// (logging the failure) instead of returning an error. The embedded
	// common-password list still applies.
	FailOpen bool
	// Logger receives failures in FailOpen mode. nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time for the cache. nil means time.Now.
	Now func() time.Time
}

// RangeClient checks passwords against a breached-password service with
// the k-anonymity range protocol: it sends only the first five hex digits
// of the password's SHA-1 and looks for the other 35 among the suffixes the
// service returns, so the service never learns the password or its hash.
// It is safe for concurrent use. Make one with [NewRangeClient].
type RangeClient struct {
	base     string
	client   *http.Client
	padding  bool
	minCount uint64
	maxBody  int64
	failOpen bool
	log      *slog.Logger
	now      func() time.Time
	cacheMax int
	ttl      time.Duration

	mu    sync.Mutex
	cache map[string]rangeEntry
	order []string // insertion order, for eviction
}

type rangeEntry struct {
	suffixes []string // sorted, upper-case, count ≥ minCount
	expires  time.Time
}

// NewRangeClient returns a RangeClient. It panics on a URL that is not
// https (or http on loopback).
func NewRangeClient(cfg RangeConfig) *RangeClient {
	c := &RangeClient{base: cfg.URL, client: cfg.Client, padding: !cfg.NoPadding, minCount: uint64(max(cfg.MinCount, 1)),
		maxBody: cfg.MaxResponseSize, failOpen: cfg.FailOpen, log: cfg.Logger, now: cfg.Now, cacheMax: cfg.CacheSize, ttl: cfg.CacheLifetime}
	if c.base == "" {
		c.base = DefaultRangeURL
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		panic("login: RangeConfig.URL must be https, or http on loopback")
	}
	if c.client == nil {
		c.client = &http.Client{Timeout: 5 * time.Second}
	}
	if c.maxBody <= 0 {
		c.maxBody = 1 << 20
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cacheMax == 0 {
		c.cacheMax = 128
	}
	if c.ttl <= 0 {
		c.ttl = time.Hour
	}
	c.cache = make(map[string]rangeEntry)
	return c
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Breached reports whether password was seen in breaches at least MinCount
// times. On a failure to ask the service it returns the error, or — with
// FailOpen — false and nil.
func (c *RangeClient) Breached(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(password))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := h[:5], h[5:]
	suffixes, err := c.lookup(ctx, prefix)
	if err != nil {
		if c.failOpen && ctx.Err() == nil {
			c.log.WarnContext(ctx, "login: breached-password check failed; accepting the password (FailOpen)", "err", err)
			return false, nil
		}
		return false, err
	}
	_, found := slices.BinarySearch(suffixes, suffix)
	return found, nil
}

func (c *RangeClient) lookup(ctx context.Context, prefix string) ([]string, error) {
	now := c.now()
	if c.cacheMax > 0 {
		c.mu.Lock()
		e, ok := c.cache[prefix]
		c.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.suffixes, nil
		}
	}
	suffixes, err := c.fetch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if c.cacheMax > 0 {
		c.put(prefix, rangeEntry{suffixes: suffixes, expires: now.Add(c.ttl)})
	}
	return suffixes, nil
}

func (c *RangeClient) put(prefix string, e rangeEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cache[prefix]; !ok {
		for len(c.order) >= c.cacheMax {
			delete(c.cache, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, prefix)
	}
	c.cache[prefix] = e
}

func (c *RangeClient) fetch(ctx context.Context, prefix string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+prefix, nil)
	if err != nil {
		return nil, fmt.Errorf("login: breached-password request: %w", err)
	}
	if c.padding {
		req.Header.Set("Add-Padding", "true")
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: breached-password request: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("login: breached-password service answered %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("login: breached-password response: %w", err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, fmt.Errorf("%w: over %d bytes", ErrRangeResponse, c.maxBody)
	}
	return parseRange(body, c.minCount)
}

// parseRange reads a range response: lines of 35 hex digits, a colon and a
// decimal count, separated by CRLF or LF. Padding entries have count 0. It
// returns the upper-cased suffixes seen at least minCount times, sorted.
func parseRange(body []byte, minCount uint64) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64), 64)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			continue
		}
		hexPart, countPart, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(hexPart) != 35 || len(countPart) == 0 || len(countPart) > 12 {
			return nil, ErrRangeResponse
		}
		var n uint64
		for _, d := range countPart {
			if d < '0' || d > '9' {
				return nil, ErrRangeResponse
			}
			n = n*10 + uint64(d-'0')
		}
		for _, h := range hexPart {
			if !(h >= '0' && h <= '9' || h >= 'A' && h <= 'F' || h >= 'a' && h <= 'f') {
				return nil, ErrRangeResponse
			}
		}
		if n >= minCount {
			out = append(out, strings.ToUpper(string(hexPart)))
		}
	}
	if sc.Err() != nil {
		return nil, ErrRangeResponse // a line longer than any valid one
	}
	slices.Sort(out)
	return out, nil
}
