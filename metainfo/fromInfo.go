package metainfo

import (
	"crypto/sha1"
	"fmt"

	"shoal/bencode"
)

// FromInfoBytes builds a MetaInfo from a bencoded info dictionary alone:
// the metadata a magnet link's peers send (BEP 9). The dictionary is
// decoded and validated as Parse does it; InfoBytes keeps a copy of the
// exact bytes and InfoHash is their SHA-1, which the caller compares with
// the hash it asked for. Trackers, web seeds and the rest are the
// caller's to fill in.
func FromInfoBytes(info []byte) (*MetaInfo, error) {
	if len(info) > MaxTorrentSize {
		return nil, fmt.Errorf("metainfo: info dictionary of %d bytes is larger than the limit of %d", len(info), MaxTorrentSize)
	}
	if len(info) == 0 || info[0] != 'd' {
		return nil, fmt.Errorf("metainfo: info: not a bencoded dictionary")
	}
	decoded, err := decodeInfo(info)
	if err != nil {
		return nil, fmt.Errorf("metainfo: info: %w", err)
	}
	raw := append(bencode.RawMessage(nil), info...)
	return &MetaInfo{Info: *decoded, InfoBytes: raw, InfoHash: sha1.Sum(raw)}, nil
}
