package config

import (
	"net"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// InsecureEndpoint reports whether endpoint, a valid endpoint URL, sends in
// clear text to another host: plain http to an address that is not a
// loopback one (127.0.0.0/8, ::1 or localhost).
func InsecureEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// insecureEndpoint reports an endpoint that would send records and the
// access key id in clear text to another host, unless allowed. The message
// does not show the URL, which may hold a password.
func (d *decoder) insecureEndpoint(endpoint string, allowed bool, at *yaml.Node, s scope) {
	if endpoint == "" || allowed || !InsecureEndpoint(endpoint) {
		return
	}
	d.errorf(at, s, "plain http to another host sends records and the access key id in clear text: "+
		"use https, or set allow_insecure_endpoint: true beside it to accept that")
}
