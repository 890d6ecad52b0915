package publish

// Which release is live is a fact of the store, not of the records: it is
// the release whose entry page is the object at the entry key. A run that
// stopped after writing its record and before the entry page left a record
// that never went live; a later release's record lists, in Retained, only
// the releases that were live before it, so that retention never counts
// such attempts and `releases` can tell them apart.

// liveView is what the object at the entry key says about the releases.
type liveView struct {
	id  string   // the live release; "" when none is
	rec *Release // its record, when read
	// chain is the live release, then the releases live before it that its
	// record kept, newest first.
	chain []RetainedRelease
	// note says why no release is live: no entry page, or a page that is no
	// release's (drift); unmatched is the latter.
	note      string
	unmatched bool
}

// candidate is a release that may be live: a record read, or an entry of a
// later record's chain standing in for a record not read.
type candidate struct {
	entry RetainedRelease
	rec   *Release
	chain []RetainedRelease
}

// chainCandidates are the newest record and the releases its chain names.
func chainCandidates(newest *Release) []candidate {
	if newest == nil {
		return nil
	}
	out := []candidate{{entry: newest.retainedEntry(), rec: newest,
		chain: append([]RetainedRelease{newest.retainedEntry()}, newest.Retained...)}}
	for i, rr := range newest.Retained {
		out = append(out, candidate{entry: rr, chain: newest.Retained[i:]})
	}
	return out
}

// recordCandidates are records, newest first.
func recordCandidates(recs []*Release) []candidate {
	out := make([]candidate, len(recs))
	for i, rec := range recs {
		out[i] = candidate{entry: rec.retainedEntry(), rec: rec,
			chain: append([]RetainedRelease{rec.retainedEntry()}, rec.Retained...)}
	}
	return out
}

// findLive picks the live release among the candidates (newest first): the
// first whose page is the served entry page and whose other unhashed files
// are served too, else the first with the page. (A rollback and the release
// it restores share a page: the newer one made it live.)
func findLive(l *listing, entry string, cands []candidate) liveView {
	served, ok := l.objects[entry]
	switch {
	case !ok:
		return liveView{note: "no " + entry + " is served"}
	case !served.Owned || served.SHA256 == "":
		return liveView{note: entry + " was not uploaded by studiobake"}
	}
	first, pick := -1, -1
	for i, c := range cands {
		if c.entry.Page != served.SHA256 {
			continue
		}
		if first < 0 {
			first = i
		}
		if c.rec == nil || c.rec.unhashedServed(l) {
			pick = i
			break
		}
	}
	if pick < 0 {
		pick = first
	}
	if pick < 0 {
		return liveView{note: entry + " is no release's page (changed outside studiobake?)", unmatched: true}
	}
	c := cands[pick]
	return liveView{id: c.entry.ID, rec: c.rec, chain: c.chain}
}

// unhashedServed reports whether every unhashed file of r is served as r
// has it.
func (r *Release) unhashedServed(l *listing) bool {
	for _, f := range r.Files {
		if f.Phase == PhaseAsset {
			continue
		}
		if o, ok := l.objects[f.Path]; !ok || o.SHA256 != f.SHA256 {
			return false
		}
	}
	return true
}

// wasLive reports whether the live release's chain names id.
func (lv liveView) wasLive(id string) bool {
	for _, rr := range lv.chain {
		if rr.ID == id {
			return true
		}
	}
	return false
}

// serves says what the site serves, for messages.
func (lv liveView) serves() string {
	if lv.id != "" {
		return "the site still serves release " + lv.id
	}
	return lv.note
}
