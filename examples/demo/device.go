package main

import "strings"

// deviceName turns a User-Agent header into a short description such as
// "Chrome on Linux", for the devices page. It only guesses; the header is
// whatever the client chose to send.
func deviceName(ua string) string {
	if ua == "" {
		return "unknown client"
	}
	var browser string
	for _, b := range []struct{ token, name string }{
		{"curl/", "curl"}, {"Go-http-client", "Go program"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	var os string
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return "a browser on " + os
	}
	if len(ua) > 40 {
		ua = strings.ToValidUTF8(ua[:40], "") + "…"
	}
	return ua
}
