// Package bencode encodes and decodes bencoding, the serialisation of BEP 3.
//
// Marshal and Unmarshal map Go values to bencode the way encoding/json maps
// them to JSON, with struct tags of the form `bencode:"name,omitempty"`.
// RawMessage keeps the exact bytes of a value, which is how a torrent's info
// hash is computed. Decoding is strict where BEP 3 is strict (no leading
// zeros, no negative zero, dictionary keys sorted and unique, no trailing
// data); Lenient mode accepts unsorted or duplicate keys, which real-world
// torrents contain. Every decode is bounded in nesting depth, string length
// and total size, and every error names the byte offset where it occurred.
package bencode
