//go:build !wasip1

package seal

import _ "embed"

// A dictionary is what zstd starts each value from: the strings and
// encodings that typical values repeat, and tables for their entropy
// coding, trained on the profiles and packs of events of a store of
// synthetic customers (memory's TestTrainDictionary). Its ID is in the
// frame of every value compressed against it: the newest one compresses,
// and every one listed opens what it compressed. Never change or remove
// one: add a new one, with the next ID, in a new store format.
var dictionaries = [][]byte{dictionary1}

//go:embed dictionary1.zstd
var dictionary1 []byte

// DictionaryID returns the zstd dictionary ID of the nth dictionary (from 1).
func DictionaryID(n int) uint32 { return 32768 + uint32(n) }

// Dictionaries returns the dictionaries values are compressed against,
// oldest first.
func Dictionaries() [][]byte { return dictionaries }
