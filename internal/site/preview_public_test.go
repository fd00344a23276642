package site

import (
	"net"
	"net/url"
	"testing"
	"time"
)

// The preview answers on loopback only: on the machine's other addresses
// (where hoist's public listener would be) its port is closed.
func TestPreviewDoesNotAnswerOnOtherAddresses(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	u, _ := url.Parse(p.URL())
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		tried++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), u.Port()), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("the preview answers on %s:%s", ipn.IP, u.Port())
		}
	}
	if tried == 0 {
		t.Skip("this machine has no address besides loopback")
	}
	// And it does answer where the browser reaches it.
	if resp, _ := get(t, "GET", p.URL()+"/"); resp.StatusCode != 200 {
		t.Fatalf("GET %s/: %d", p.URL(), resp.StatusCode)
	}
}
