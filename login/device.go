package login

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/authkit/authkit/cookie"
)

// The device cookie marks a browser that has signed in to an account
// before. Its payload, signed (not encrypted) with a cookie.Codec, is:
//
//	0x01 | device ID (16 random bytes) | n (1 byte, 1..maxDeviceAccounts) | n × account tag (16 bytes)
//
// An account tag is the first 16 bytes of SHA-256 over a fixed label and
// the normalised user name: the cookie names no account in clear, and it
// proves nothing about the account by itself — the signature says this
// server put it there after a successful sign-in.
const (
	deviceVersion     byte = 0x01
	deviceIDLen            = 16
	deviceTagLen           = 16
	maxDeviceAccounts      = 8
	deviceLabel            = "authkit/login device v1\x00"
)

// DefaultDeviceCookie is the name of the device cookie.
const DefaultDeviceCookie = "__Host-device"

// DefaultDeviceLifetime is how long a device stays known after its last
// sign-in.
const DefaultDeviceLifetime = 180 * 24 * time.Hour

var errDevice = errors.New("login: malformed device cookie")

type device struct {
	id   [deviceIDLen]byte
	tags [][deviceTagLen]byte
}

func accountTag(name string) [deviceTagLen]byte {
	sum := sha256.Sum256([]byte(deviceLabel + name))
	var t [deviceTagLen]byte
	copy(t[:], sum[:])
	return t
}

func (d *device) encode() []byte {
	b := make([]byte, 0, 2+deviceIDLen+len(d.tags)*deviceTagLen)
	b = append(b, deviceVersion)
	b = append(b, d.id[:]...)
	b = append(b, byte(len(d.tags)))
	for _, t := range d.tags {
		b = append(b, t[:]...)
	}
	return b
}

// decodeDevice parses a verified payload. It refuses anything but the exact
// layout above, so it never allocates more than maxDeviceAccounts tags.
func decodeDevice(b []byte) (device, error) {
	var d device
	if len(b) < 2+deviceIDLen || b[0] != deviceVersion {
		return device{}, errDevice
	}
	copy(d.id[:], b[1:])
	n := int(b[1+deviceIDLen])
	rest := b[2+deviceIDLen:]
	if n < 1 || n > maxDeviceAccounts || len(rest) != n*deviceTagLen {
		return device{}, errDevice
	}
	d.tags = make([][deviceTagLen]byte, n)
	for i := range n {
		copy(d.tags[i][:], rest[i*deviceTagLen:])
	}
	return d, nil
}

func (d *device) knows(tag [deviceTagLen]byte) bool {
	for _, t := range d.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// add puts tag last, dropping the oldest tag when the cookie is full.
func (d *device) add(tag [deviceTagLen]byte) {
	out := d.tags[:0]
	for _, t := range d.tags {
		if t != tag {
			out = append(out, t)
		}
	}
	if len(out) >= maxDeviceAccounts {
		out = out[len(out)-maxDeviceAccounts+1:]
	}
	d.tags = append(out, tag)
}

// devices reads and writes device cookies.
type devices struct {
	codec    *cookie.Codec
	tmpl     cookie.Template
	lifetime time.Duration
}

func newDevices(codec *cookie.Codec, tmpl cookie.Template, lifetime time.Duration) devices {
	if codec == nil {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		c, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: secret})
		if err != nil {
			panic("login: " + err.Error())
		}
		codec = c
	}
	if tmpl.Name == "" {
		tmpl = cookie.New(DefaultDeviceCookie)
	}
	if lifetime <= 0 {
		lifetime = DefaultDeviceLifetime
	}
	if lifetime > cookie.MaxAgeLimit {
		panic("login: DeviceLifetime exceeds the 400 days browsers keep a cookie")
	}
	tmpl.MaxAge = lifetime
	if err := tmpl.Validate(); err != nil {
		panic("login: device cookie: " + err.Error())
	}
	return devices{codec: codec, tmpl: tmpl, lifetime: lifetime}
}

// read returns the device in r's cookie; ok is false when there is none or
// it does not verify (forged, expired, another server's key).
func (ds *devices) read(r *http.Request) (device, bool) {
	v, err := ds.tmpl.Read(r)
	if err != nil || v == "" {
		return device{}, false
	}
	p, err := ds.codec.Verify(ds.tmpl.Name, v)
	if err != nil {
		return device{}, false
	}
	d, err := decodeDevice(p)
	return d, err == nil
}

// known returns the throttle's device ID for name when r comes from a
// device that signed in to name before, or "".
func (ds *devices) known(r *http.Request, name string) string {
	d, ok := ds.read(r)
	if !ok || !d.knows(accountTag(name)) {
		return ""
	}
	return hex.EncodeToString(d.id[:])
}

// remember marks r's browser as a known device of name.
func (ds *devices) remember(w http.ResponseWriter, r *http.Request, name string) error {
	d, ok := ds.read(r)
	if !ok {
		d = device{}
		_, _ = rand.Read(d.id[:])
	}
	d.add(accountTag(name))
	v, err := ds.codec.Sign(ds.tmpl.Name, d.encode(), ds.lifetime)
	if err != nil {
		return err
	}
	return ds.tmpl.Set(w, v)
}
