package dht

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"shoal/bencode"
	"shoal/dht/krpc"
	"shoal/dht/traversal"
)

// maxStateFile bounds the state file we read: a full table is a few tens
// of kilobytes.
const maxStateFile = 1 << 20

// stateFile is the bencoded content of Config.StateFile: our id and the
// good nodes of the table, in compact form.
type stateFile struct {
	ID     []byte      `bencode:"id"`
	Nodes  krpc.Nodes  `bencode:"nodes,omitempty"`
	Nodes6 krpc.Nodes6 `bencode:"nodes6,omitempty"`
	Saved  int64       `bencode:"saved"` // Unix seconds, for people reading the file
}

// loadedState is what New takes from the state file.
type loadedState struct {
	id    ID
	nodes []traversal.Node
}

// loadState reads the state file at path.
func loadState(path string) (loadedState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return loadedState{}, err
	}
	st, err := decodeState(b)
	if err != nil {
		return loadedState{}, fmt.Errorf("dht: state file %s: %w", path, err)
	}
	return st, nil
}

// decodeState decodes a state file's content. The file is ours, but it may
// be damaged or planted, so it is bounded like network input.
func decodeState(b []byte) (loadedState, error) {
	var st loadedState
	if len(b) > maxStateFile {
		return st, fmt.Errorf("%d bytes, limit %d", len(b), maxStateFile)
	}
	var f stateFile
	if err := (bencode.DecodeOptions{MaxSize: maxStateFile}).Unmarshal(b, &f); err != nil {
		return st, err
	}
	if len(f.ID) != len(st.id) {
		return st, fmt.Errorf("id of %d bytes, want 20", len(f.ID))
	}
	st.id = ID(f.ID)
	for _, list := range [][]krpc.NodeInfo{f.Nodes, f.Nodes6} {
		for _, c := range list {
			st.nodes = append(st.nodes, traversal.Node{ID: c.ID, Addr: c.Addr})
		}
	}
	return st, nil
}

// encodeState is the state file's content for id and nodes. Each family
// keeps at most krpc.MaxNodes nodes, the most decodeState reads back: a
// table with more good nodes than that must still save a file that loads.
// An IPv4-mapped address is saved as IPv4, the form "nodes" can hold.
func encodeState(id ID, nodes []traversal.Node, saved time.Time) ([]byte, error) {
	f := stateFile{ID: id[:], Saved: saved.Unix()}
	for _, c := range nodes {
		info := krpc.NodeInfo{ID: c.ID, Addr: c.Addr}
		if c.Addr.Addr().Unmap().Is4() {
			if len(f.Nodes) < krpc.MaxNodes {
				f.Nodes = append(f.Nodes, info)
			}
		} else if len(f.Nodes6) < krpc.MaxNodes {
			f.Nodes6 = append(f.Nodes6, info)
		}
	}
	return bencode.Marshal(&f)
}

// saveState writes our id and the good nodes atomically: a temporary file
// in the same directory, synced, then renamed over the old one, so a crash
// leaves either the old or the new state.
func (n *Node) saveState() error {
	b, err := encodeState(n.id, n.table.goodNodes(time.Now()), time.Now())
	if err != nil {
		return fmt.Errorf("dht: encode state: %w", err)
	}
	path := n.cfg.StateFile
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("dht: save state to %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("dht: save state: %w", err)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
