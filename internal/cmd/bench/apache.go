package main

import "strconv"

// Apache combined log lines as a busy web site writes them: public client
// addresses (a few IPv6), mostly GET with some POST and others, pages,
// assets, API calls with ids and query strings, weighted status codes,
// "-" sizes for bodiless answers, real referrers and user agents (browsers,
// phones, crawlers, tools). Lines run from about 100 to 400 bytes, 200 on
// average:
//
//	198.51.100.23 - - [22/Nov/2026:05:00:00 +0000] "GET /api/v2/products/48213?fields=price,stock HTTP/1.1" 200 1432 "https://www.example.com/products/48213" "Mozilla/5.0 (...) Chrome/131.0.0.0 Safari/537.36"

var (
	apacheMethods  = []string{"GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"}
	apacheProtos   = []string{"HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/2.0", "HTTP/2.0", "HTTP/1.0"}
	apacheStatuses = []string{"200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "304", "304", "304", "301", "302", "404", "404", "206", "201", "204", "403", "500", "503"}
	apacheUsers    = []string{"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "alice", "bob", "deploy", "svc-backup"}
	apachePages    = []string{"/", "/index.html", "/about", "/contact", "/blog/2026/11/scaling-log-pipelines", "/docs/getting-started", "/pricing", "/login", "/logout", "/search", "/cart", "/checkout/payment", "/account/orders", "/robots.txt", "/favicon.ico", "/sitemap.xml"}
	apacheAssets   = []string{"/static/css/main.4f3c2a9b.css", "/static/js/app.8d1e77c0.js", "/static/js/vendor.21b9f3aa.js", "/images/logo.svg", "/images/hero-1920x1080.webp", "/fonts/inter-var.woff2", "/images/products/thumb/", "/images/products/large/"}
	apacheAPIs     = []string{"/api/v2/products/", "/api/v2/orders/", "/api/v1/customers/", "/api/v2/cart/items/", "/api/v1/inventory/", "/api/v2/reviews/"}
	apacheQueries  = []string{"", "", "", "?page=2", "?q=wireless+headphones&sort=price_asc", "?fields=price,stock", "?utm_source=newsletter&utm_medium=email&utm_campaign=nov26", "?lang=en-GB", "?ref=homepage_banner&variant=b", "?limit=50&offset=200"}
	apacheRefs     = []string{"-", "-", "-", "https://www.example.com/", "https://www.example.com/products/", "https://www.google.com/", "https://www.bing.com/search?q=example+store", "https://duckduckgo.com/", "https://t.co/x7Yb2Kq9Pz", "https://www.example.com/blog/2026/11/scaling-log-pipelines"}
	apacheAgents   = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"curl/8.5.0",
		"python-requests/2.32.3",
		"Go-http-client/2.0",
		"kube-probe/1.31",
		"-",
	}
)

// genApacheLine appends one combined log line, without its newline. The
// clock advances 0-9 ms a line: several lines share a second.
func genApacheLine(g *lineGen, b []byte) []byte {
	r := g.rand()
	b = appendClientIP(b, g, r)
	b = append(b, " - "...)
	b = append(b, apacheUsers[r>>8%uint64(len(apacheUsers))]...)
	b = append(b, " ["...)
	g.ms += int64(r >> 16 % 10)
	b = appendApacheTime(b, g.ms)
	b = append(b, `] "`...)
	r = g.rand()
	method := apacheMethods[r%uint64(len(apacheMethods))]
	b = append(b, method...)
	b = append(b, ' ')
	b = appendApachePath(b, g, method)
	b = append(b, ' ')
	b = append(b, apacheProtos[r>>8%uint64(len(apacheProtos))]...)
	b = append(b, `" `...)
	status := apacheStatuses[r>>16%uint64(len(apacheStatuses))]
	b = append(b, status...)
	b = append(b, ' ')
	switch {
	case status == "304" || status == "204" || method == "HEAD":
		b = append(b, '-')
	case status[0] == '2':
		b = strconv.AppendUint(b, r>>24%250_000+120, 10)
	default:
		b = strconv.AppendUint(b, r>>24%2_000+150, 10)
	}
	b = append(b, ` "`...)
	r = g.rand()
	b = append(b, apacheRefs[r%uint64(len(apacheRefs))]...)
	b = append(b, `" "`...)
	b = append(b, apacheAgents[r>>8%uint64(len(apacheAgents))]...)
	return append(b, '"')
}

// appendClientIP appends a client address: IPv4 from the whole unicast
// range, one in 16 an IPv6 address.
func appendClientIP(b []byte, g *lineGen, r uint64) []byte {
	if r>>60 == 0 {
		b = append(b, "2001:db8:"...)
		x := g.rand()
		for i := range 3 {
			if i > 0 {
				b = append(b, ':')
			}
			b = strconv.AppendUint(b, x>>(16*i)&0xFFFF, 16)
		}
		b = append(b, "::"...)
		return strconv.AppendUint(b, x>>48&0xFFF+1, 16)
	}
	b = strconv.AppendUint(b, r>>32%223+1, 10)
	for i := range 3 {
		b = append(b, '.')
		b = strconv.AppendUint(b, r>>(40+8*i)&0xFF, 10)
	}
	return b
}

// appendApachePath appends a request target: a page, an asset or an API
// call with an id, and sometimes a query.
func appendApachePath(b []byte, g *lineGen, method string) []byte {
	r := g.rand()
	kind := r % 10
	if method != "GET" && method != "HEAD" {
		kind = 9 // writes go to the API
	}
	switch {
	case kind < 4:
		b = append(b, apachePages[r>>8%uint64(len(apachePages))]...)
	case kind < 7:
		a := apacheAssets[r>>8%uint64(len(apacheAssets))]
		b = append(b, a...)
		if a[len(a)-1] == '/' {
			b = strconv.AppendUint(b, r>>16%100_000, 10)
			b = append(b, ".jpg"...)
		}
		return b
	default:
		b = append(b, apacheAPIs[r>>8%uint64(len(apacheAPIs))]...)
		b = strconv.AppendUint(b, r>>16%1_000_000, 10)
	}
	return append(b, apacheQueries[r>>40%uint64(len(apacheQueries))]...)
}

// appendApacheTime appends ms (since 2026-11-22T00:00:00Z, under 24 h a
// day; the date stays) as 22/Nov/2026:HH:MM:SS +0000.
func appendApacheTime(b []byte, ms int64) []byte {
	s := ms / 1000 % 86_400
	b = append(b, "22/Nov/2026:"...)
	b = appendDigits(b, uint64(s/3600), 2)
	b = append(b, ':')
	b = appendDigits(b, uint64(s/60%60), 2)
	b = append(b, ':')
	b = appendDigits(b, uint64(s%60), 2)
	return append(b, " +0000"...)
}
