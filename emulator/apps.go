package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func getApp(c *call) {
	c.s.mu.Lock()
	body := c.s.appJSON(c.actor.app)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func listInstallations(c *call) {
	c.s.mu.Lock()
	var list []*Installation
	for _, in := range c.s.st.Installations {
		if in.AppID == c.actor.app.ID {
			list = append(list, in)
		}
	}
	sortByID(list, func(x *Installation) int64 { return x.ID })
	out := []obj{}
	for _, in := range list {
		out = append(out, c.s.installationJSON(in))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func (c *call) ownInstallation() (*Installation, bool) {
	id, ok := c.intParam("installation_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	in := c.s.st.Installations[id]
	c.s.mu.Unlock()
	if in == nil || in.AppID != c.actor.app.ID {
		c.notFound()
		return nil, false
	}
	return in, true
}

func getInstallation(c *call) {
	in, ok := c.ownInstallation()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.installationJSON(in)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

// createInstallationToken issues an installation token valid for one hour,
// optionally narrowed to some repositories and permissions.
func createInstallationToken(c *call) {
	in, ok := c.ownInstallation()
	if !ok {
		return
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if !c.decode(&req) {
		return
	}
	c.s.mu.Lock()
	app := c.s.appByID(in.AppID)
	var repos []string
	for _, name := range req.Repositories {
		found := ""
		for _, full := range in.Repos {
			if _, n, _ := strings.Cut(full, "/"); strings.EqualFold(n, name) || strings.EqualFold(full, name) {
				found = full
			}
		}
		if found == "" {
			c.s.mu.Unlock()
			c.invalid("There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
		repos = append(repos, found)
	}
	for _, id := range req.RepositoryIDs {
		found := ""
		for _, full := range in.Repos {
			if r := c.s.st.Repos[strings.ToLower(full)]; r != nil && r.ID == id {
				found = full
			}
		}
		if found == "" {
			c.s.mu.Unlock()
			c.invalid("There is at least one repository that does not exist or is not accessible to the parent installation.")
			return
		}
		repos = append(repos, found)
	}
	perms := app.Permissions
	if req.Permissions != nil {
		for k, v := range req.Permissions {
			have := app.Permissions[k]
			if have == "" || (v == "write" && have == "read") {
				c.s.mu.Unlock()
				c.invalid("The permissions requested are not granted to this installation.")
				return
			}
		}
		perms = req.Permissions
	}
	tok := newToken("ghs_")
	expires := c.s.now().Add(time.Hour)
	c.s.st.Tokens[tok] = &Token{InstallationID: in.ID, ExpiresAt: expires, Repos: repos, Permissions: req.Permissions}
	// Expired tokens are dropped here so the snapshot stays small.
	for k, t := range c.s.st.Tokens {
		if !t.ExpiresAt.IsZero() && c.s.now().After(t.ExpiresAt) {
			delete(c.s.st.Tokens, k)
		}
	}
	body := obj{"token": tok, "expires_at": ts(expires), "permissions": perms, "repository_selection": "selected"}
	if len(repos) > 0 {
		list := []obj{}
		for _, full := range repos {
			list = append(list, c.s.repoJSON(c.s.st.Repos[strings.ToLower(full)]))
		}
		body["repositories"] = list
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusCreated, body)
}

func getRepoInstallation(c *call) {
	if c.actor.app == nil || c.actor.inst != nil {
		c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded", nil)
		return
	}
	c.s.mu.Lock()
	in := c.s.installationOf(c.actor.app.ID, c.repo.FullName())
	var body obj
	if in != nil {
		body = c.s.installationJSON(in)
	}
	c.s.mu.Unlock()
	if body == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

func getAccountInstallation(c *call) {
	account := c.param("org")
	if account == "" {
		account = c.param("username")
	}
	c.s.mu.Lock()
	var body obj
	for _, in := range c.s.st.Installations {
		if in.AppID == c.actor.app.ID && strings.EqualFold(in.Account, account) {
			body = c.s.installationJSON(in)
		}
	}
	c.s.mu.Unlock()
	if body == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

func listInstallationRepos(c *call) {
	c.s.mu.Lock()
	list := []obj{}
	for _, full := range c.actor.inst.Repos {
		if r := c.s.st.Repos[strings.ToLower(full)]; r != nil {
			list = append(list, c.s.repoJSON(r))
		}
	}
	c.s.mu.Unlock()
	total := len(list)
	c.json(http.StatusOK, obj{"total_count": total, "repositories": pageOf(c, list), "repository_selection": "selected"})
}

// attemptJSON is a hook-delivery-item.
func attemptJSON(a *Attempt) obj {
	var inst, repo any
	if a.InstallationID != 0 {
		inst = a.InstallationID
	}
	if a.RepositoryID != 0 {
		repo = a.RepositoryID
	}
	at := a.DeliveredAt
	if at.IsZero() {
		at = time.Unix(0, 0)
	}
	return obj{
		"id": a.ID, "guid": a.GUID, "delivered_at": ts(at), "redelivery": a.Redelivery, "duration": a.Duration,
		"status": a.Status, "status_code": a.StatusCode, "event": a.Event, "action": nullable(a.Action),
		"installation_id": inst, "repository_id": repo, "throttled_at": nil,
	}
}

// pendingAttempt stands for a delivery not yet tried, so that its ID can
// be fetched (and redelivered) before its first attempt is logged.
func pendingAttempt(d *Delivery) *Attempt {
	return &Attempt{ID: d.ID, Delivery: d.ID, GUID: d.GUID, AppID: d.AppID, Event: d.Event, Action: d.Action,
		InstallationID: d.InstallationID, RepositoryID: d.RepositoryID, DeliveredAt: d.DeliveredAt,
		Redelivery: d.Redelivery, Status: d.Status, StatusCode: d.StatusCode}
}

// hookCursor is the opaque cursor of the deliveries list: the ID of the
// newest attempt on the page it starts.
func hookCursor(id int64) string { return "v1_" + strconv.FormatInt(id, 10) }

// listDeliveries lists the app's delivery log, newest first, a page at a
// time: per_page (default 30, at most 100) and the cursor GitHub puts in
// the Link header's rel="next"; status=success keeps status codes
// 200–399, status=failure 400–599 (so, as on GitHub, a receiver that was
// down, status_code 0, is in neither).
func listDeliveries(c *call) {
	q := c.r.URL.Query()
	per := 30
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.invalid("Invalid request.\n\nper_page must be a positive number.")
			return
		}
		per = min(n, 100)
	}
	status := q.Get("status")
	if status != "" && status != "success" && status != "failure" {
		c.invalid("Invalid request.\n\nstatus must be one of success, failure.")
		return
	}
	from := int64(-1)
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "v1_"), 10, 64)
		if err != nil || !strings.HasPrefix(v, "v1_") {
			c.invalid("Invalid request.\n\nThe cursor is not valid.")
			return
		}
		from = n
	}
	c.s.mu.Lock()
	oldest := c.s.now().Add(-HookLogRetention)
	var items []*Attempt
	for _, a := range c.s.st.HookLog {
		if a.AppID != c.actor.app.ID || a.DeliveredAt.Before(oldest) {
			continue
		}
		ok := a.StatusCode >= 200 && a.StatusCode < 400
		if status == "failure" {
			ok = a.StatusCode >= 400 && a.StatusCode < 600
		}
		if status == "" || ok {
			items = append(items, a)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID > items[j].ID })
	start := 0
	if from >= 0 {
		start = sort.Search(len(items), func(i int) bool { return items[i].ID <= from })
	}
	end := min(start+per, len(items))
	out := make([]obj, 0, end-start)
	for _, a := range items[start:end] {
		out = append(out, attemptJSON(a))
	}
	if end < len(items) {
		u := *c.r.URL
		qq := u.Query()
		qq.Set("per_page", strconv.Itoa(per))
		qq.Set("cursor", hookCursor(items[end].ID))
		u.RawQuery = qq.Encode()
		c.w.Header().Set("Link", "<"+c.s.URL()+u.Path+"?"+u.RawQuery+`>; rel="next"`)
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, out)
}

// attempt finds the app's logged attempt (or not yet attempted delivery)
// with the route's delivery_id, within retention, and its delivery.
// Callers hold s.mu.
func (c *call) attempt() (*Attempt, *Delivery, bool) {
	id, err := strconv.ParseInt(c.param("delivery_id"), 10, 64)
	if err != nil {
		return nil, nil, false
	}
	oldest := c.s.now().Add(-HookLogRetention)
	var found *Attempt
	for _, a := range c.s.st.HookLog {
		if a.ID == id && a.AppID == c.actor.app.ID && !a.DeliveredAt.Before(oldest) {
			found = a
		}
	}
	want := id
	if found != nil {
		want = found.Delivery
	}
	for _, d := range c.s.st.Deliveries {
		if d.ID == want && d.AppID == c.actor.app.ID {
			if found == nil {
				if d.Logged || d.Done {
					return nil, nil, false // its attempts are past retention
				}
				found = pendingAttempt(d)
			}
			return found, d, true
		}
	}
	return nil, nil, false
}

func getDelivery(c *call) {
	c.s.mu.Lock()
	a, d, ok := c.attempt()
	if !ok {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	body := attemptJSON(a)
	// The payload is the exact bytes that were signed, so a client can
	// recompute X-Hub-Signature-256 from this answer.
	body["request"] = obj{"headers": d.RequestHeader, "payload": json.RawMessage(d.Payload)}
	var rh any
	if a.ResponseHeader != nil {
		rh = a.ResponseHeader
	}
	body["response"] = obj{"headers": rh, "payload": nullable(a.ResponseBody)}
	body["url"] = ""
	if app := c.s.appByID(d.AppID); app != nil {
		body["url"] = app.WebhookURL
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

// redeliver sends the attempt's delivery again, with the same GUID and
// payload and redelivery true, as GitHub's "Redeliver" does.
func redeliver(c *call) {
	c.s.mu.Lock()
	_, d, ok := c.attempt()
	if ok {
		c.s.redeliver(d)
	}
	c.s.mu.Unlock()
	if !ok {
		c.notFound()
		return
	}
	c.json(http.StatusAccepted, obj{})
}

func rateLimit(c *call) {
	// "Calling this endpoint does not count against your REST API
	// primary rate limit" (GitHub's rate limit endpoint docs).
	c.free = true
	limit := 5000
	if c.actor.inst != nil {
		limit = 15000
	}
	reset := c.s.now().Truncate(time.Hour).Add(time.Hour).Unix()
	r := func(l int) obj { return obj{"limit": l, "used": 0, "remaining": l, "reset": reset} }
	c.json(http.StatusOK, obj{
		"resources": obj{"core": r(limit), "search": r(30), "graphql": r(limit), "integration_manifest": r(5000)},
		"rate":      r(limit),
	})
}
