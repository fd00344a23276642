package emulator

import (
	"encoding/json"
	"net/http"
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

// deliveryItemJSON is a hook-delivery-item. Callers hold s.mu.
func deliveryItemJSON(d *Delivery) obj {
	var inst, repo any
	if d.InstallationID != 0 {
		inst = d.InstallationID
	}
	if d.RepositoryID != 0 {
		repo = d.RepositoryID
	}
	status := d.Status
	at := d.DeliveredAt
	if at.IsZero() {
		at = time.Unix(0, 0)
	}
	return obj{
		"id": d.ID, "guid": d.GUID, "delivered_at": ts(at), "redelivery": d.Redelivery, "duration": d.Duration,
		"status": status, "status_code": d.StatusCode, "event": d.Event, "action": nullable(d.Action),
		"installation_id": inst, "repository_id": repo, "throttled_at": nil,
	}
}

func listDeliveries(c *call) {
	c.s.mu.Lock()
	out := []obj{}
	for i := len(c.s.st.Deliveries) - 1; i >= 0; i-- {
		if d := c.s.st.Deliveries[i]; d.AppID == c.actor.app.ID {
			out = append(out, deliveryItemJSON(d))
		}
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func (c *call) delivery() (*Delivery, bool) {
	id, err := strconv.ParseInt(c.param("delivery_id"), 10, 64)
	if err != nil {
		c.notFound()
		return nil, false
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, d := range c.s.st.Deliveries {
		if d.ID == id && d.AppID == c.actor.app.ID {
			return d, true
		}
	}
	c.notFound()
	return nil, false
}

func getDelivery(c *call) {
	d, ok := c.delivery()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := deliveryItemJSON(d)
	// The payload is the exact bytes that were signed, so a client can
	// recompute X-Hub-Signature-256 from this answer.
	body["request"] = obj{"headers": d.RequestHeader, "payload": json.RawMessage(d.Payload)}
	var rh any
	if d.ResponseHeader != nil {
		rh = d.ResponseHeader
	}
	body["response"] = obj{"headers": rh, "payload": nullable(d.ResponseBody)}
	body["url"] = ""
	if app := c.s.appByID(d.AppID); app != nil {
		body["url"] = app.WebhookURL
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func redeliver(c *call) {
	d, ok := c.delivery()
	if !ok {
		return
	}
	c.s.mu.Lock()
	c.s.redeliver(d)
	c.s.mu.Unlock()
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
