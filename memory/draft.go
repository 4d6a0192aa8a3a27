package memory

import "time"

// Draft is named work in progress: a cart, a half-filled form, a layout.
// Drafts survive restarts, upgrades and merges.
type Draft struct {
	Name  string    `json:"name"`
	Data  []byte    `json:"data"` // base64 in JSON
	Saved time.Time `json:"saved"`
}

// DraftInfo describes a draft without its data.
type DraftInfo struct {
	Name  string    `json:"name" msgpack:"n"`
	Size  int       `json:"size" msgpack:"z"`
	Saved time.Time `json:"saved" msgpack:"t"`
}

// draftRef is a profile's entry for a draft: where its data is kept. After a
// merge, the survivor lists the absorbed customer's drafts, whose data stays
// under the absorbed customer's key, so that an unmerge gives them back.
type draftRef struct {
	DraftInfo `msgpack:",inline"`
	Owner     CustomerID `msgpack:"o"`
	Deleted   bool       `msgpack:"d,omitempty"` // deleted on the survivor; hides the owner's copy
}

func checkDraftName(name string) error { return checkToken("draft name", name, 64) }

func upsertDraft(ds []draftRef, d draftRef) []draftRef {
	for i := range ds {
		if ds[i].Name == d.Name {
			if d.Saved.Before(ds[i].Saved) {
				return ds
			}
			ds[i] = d
			return ds
		}
	}
	return append(ds, d)
}

// countDrafts returns how many drafts p shows.
func countDrafts(p *profile) int {
	n := 0
	for _, d := range p.Drafts {
		if !d.Deleted {
			n++
		}
	}
	return n
}
