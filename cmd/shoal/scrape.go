package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"shoal/metainfo"
	"shoal/tracker"
)

// scrapeTimeout bounds the scrape of one tracker.
const scrapeTimeout = 15 * time.Second

// scrapeJSON is what "shoal info --scrape --json" prints.
type scrapeJSON struct {
	InfoHash string            `json:"info_hash"`
	Scrape   []scrapeEntryJSON `json:"scrape"`
}

// scrapeEntryJSON is one tracker's answer: counts, or the error.
type scrapeEntryJSON struct {
	URL       string `json:"url"`
	Tier      int    `json:"tier"`
	Seeders   *int   `json:"seeders,omitempty"`
	Leechers  *int   `json:"leechers,omitempty"`
	Completed *int   `json:"completed,omitempty"`
	Error     string `json:"error,omitempty"`
}

// runScrape asks every tracker of a torrent or magnet link for its counts,
// all at once, and prints one line (or JSON entry) per tracker.
func runScrape(ctx context.Context, arg string, asJSON bool, stdout io.Writer) error {
	ih, tiers, err := scrapeTarget(arg)
	if err != nil {
		return err
	}
	if len(tiers) == 0 {
		return errors.New("the torrent names no trackers to scrape")
	}
	var entries []scrapeEntryJSON
	for ti, tier := range tiers {
		for _, u := range tier {
			entries = append(entries, scrapeEntryJSON{URL: u, Tier: ti})
		}
	}
	// Shorter UDP timeouts than BEP 15's 15 s: a person is waiting.
	client := &tracker.Client{UDPRetransmitBase: 3 * time.Second, UDPMaxRetransmits: 2}
	defer client.Close()
	var wg sync.WaitGroup
	for i := range entries {
		e := &entries[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
			defer cancel()
			res, err := client.Scrape(sctx, e.URL, []metainfo.InfoHash{ih})
			if err != nil {
				e.Error = err.Error()
				return
			}
			st, ok := res[ih]
			if !ok {
				// HTTP trackers leave out torrents they do not know.
				st = tracker.ScrapeStats{}
			}
			e.Seeders, e.Leechers, e.Completed = &st.Seeders, &st.Leechers, &st.Completed
		}()
	}
	wg.Wait()
	answered := 0
	for _, e := range entries {
		if e.Error == "" {
			answered++
		}
	}
	if asJSON {
		if err := writeJSON(stdout, scrapeJSON{InfoHash: ih.String(), Scrape: entries}); err != nil {
			return err
		}
	} else {
		for _, e := range entries {
			if e.Error != "" {
				fmt.Fprintf(stdout, "%s: error: %s\n", printable(e.URL), printable(e.Error))
				continue
			}
			fmt.Fprintf(stdout, "%s: %d seeders, %d leechers, %d completed\n", printable(e.URL), *e.Seeders, *e.Leechers, *e.Completed)
		}
	}
	if answered == 0 {
		return fmt.Errorf("none of the %d trackers answered the scrape", len(entries))
	}
	return nil
}

// scrapeTarget reads the info hash and tracker tiers of a torrent file or
// a magnet link.
func scrapeTarget(arg string) (metainfo.InfoHash, [][]string, error) {
	if strings.HasPrefix(strings.ToLower(arg), "magnet:") {
		m, err := metainfo.ParseMagnet(arg)
		if err != nil {
			return metainfo.InfoHash{}, nil, fmt.Errorf("invalid magnet link: %w", err)
		}
		if !m.HasV1 {
			return metainfo.InfoHash{}, nil, errors.New("the magnet link has no v1 info hash to scrape")
		}
		var tiers [][]string
		for _, tr := range m.Trackers {
			tiers = append(tiers, []string{tr})
		}
		return m.InfoHash, tiers, nil
	}
	mi, err := metainfo.Load(arg)
	if err != nil {
		return metainfo.InfoHash{}, nil, withPath(err, arg)
	}
	return mi.InfoHash, tracker.Tiers(mi.Announce, mi.AnnounceList), nil
}
