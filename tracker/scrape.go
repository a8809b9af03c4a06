package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"shoal/metainfo"
)

// ErrNoScrape is returned for an HTTP tracker whose announce URL gives no
// scrape URL by the BEP 48 rule.
var ErrNoScrape = errors.New("tracker does not support scrape: its URL's last path component does not start with \"announce\"")

// ScrapeURL derives an HTTP tracker's scrape URL from its announce URL
// (BEP 48): the last path component must start with "announce", which is
// replaced by "scrape"; anything else means the tracker cannot be scraped.
func ScrapeURL(announce string) (string, error) {
	u, err := url.Parse(announce)
	if err != nil {
		return "", fmt.Errorf("tracker: bad URL %q: %w", announce, err)
	}
	slash := strings.LastIndexByte(u.Path, '/')
	last := u.Path[slash+1:]
	if slash < 0 || !strings.HasPrefix(last, "announce") {
		return "", ErrNoScrape
	}
	u.Path = u.Path[:slash+1] + "scrape" + strings.TrimPrefix(last, "announce")
	u.RawPath = ""
	return u.String(), nil
}

// maxHTTPScrapeHashes bounds the info hashes in one HTTP scrape: a URL
// with many more is longer than servers accept.
const maxHTTPScrapeHashes = 64

func (c *Client) scrapeHTTP(ctx context.Context, u *url.URL, hashes []metainfo.InfoHash) (map[metainfo.InfoHash]ScrapeStats, error) {
	scrape, err := ScrapeURL(u.String())
	if err != nil {
		return nil, err
	}
	su, err := url.Parse(scrape)
	if err != nil {
		return nil, err
	}
	out := make(map[metainfo.InfoHash]ScrapeStats, len(hashes))
	for len(hashes) > 0 {
		n := min(len(hashes), maxHTTPScrapeHashes)
		q := make([]string, n)
		for i, ih := range hashes[:n] {
			q[i] = "info_hash=" + url.QueryEscape(string(ih[:]))
		}
		body, err := c.getBencoded(ctx, withQuery(su, strings.Join(q, "&")))
		if err != nil {
			return nil, err
		}
		if err := parseHTTPScrape(body, out); err != nil {
			return nil, err
		}
		hashes = hashes[n:]
	}
	return out, nil
}

// parseHTTPScrape decodes an HTTP scrape response (BEP 48) into out.
func parseHTTPScrape(body []byte, out map[metainfo.InfoHash]ScrapeStats) error {
	var b struct {
		FailureReason *string `bencode:"failure reason"`
		Files         map[string]struct {
			Complete   int64 `bencode:"complete"`
			Downloaded int64 `bencode:"downloaded"`
			Incomplete int64 `bencode:"incomplete"`
		} `bencode:"files"`
	}
	if err := lenient.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("malformed response: %w", err)
	}
	if b.FailureReason != nil {
		return &FailureError{Reason: *b.FailureReason}
	}
	if b.Files == nil {
		return errors.New("malformed response: no files dictionary")
	}
	for key, f := range b.Files {
		if len(key) != len(metainfo.InfoHash{}) {
			return fmt.Errorf("malformed response: files key of %d bytes, want a 20-byte info hash", len(key))
		}
		var st ScrapeStats
		var err error
		if st.Seeders, err = count("complete", f.Complete); err != nil {
			return err
		}
		if st.Leechers, err = count("incomplete", f.Incomplete); err != nil {
			return err
		}
		if st.Completed, err = count("downloaded", f.Downloaded); err != nil {
			return err
		}
		out[metainfo.InfoHash([]byte(key))] = st
	}
	return nil
}
