package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Delivery is one webhook sent (or attempted) to an app, kept for the
// deliveries API and redelivery.
type Delivery struct {
	ID             int64             `json:"id"`
	GUID           string            `json:"guid"`
	AppID          int64             `json:"app_id"`
	Event          string            `json:"event"`
	Action         string            `json:"action,omitempty"`
	InstallationID int64             `json:"installation_id,omitempty"`
	RepositoryID   int64             `json:"repository_id,omitempty"`
	Repo           string            `json:"repo,omitempty"`
	Payload        json.RawMessage   `json:"payload"`
	RequestHeader  map[string]string `json:"request_headers"`
	StatusCode     int               `json:"status_code"`
	Status         string            `json:"status"`
	ResponseHeader map[string]string `json:"response_headers,omitempty"`
	ResponseBody   string            `json:"response_body,omitempty"`
	DeliveredAt    time.Time         `json:"delivered_at"`
	Duration       float64           `json:"duration"`
	Redelivery     bool              `json:"redelivery"`
	Attempts       int               `json:"attempts"`
	Dropped        bool              `json:"dropped,omitempty"`
	// Done is set once the sender has finished with the delivery
	// (delivered, failed after retries, or dropped).
	Done bool `json:"done"`
	// Logged is set once the delivery's first attempt is in the hook log
	// (under the delivery's own ID; later attempts get new IDs).
	Logged bool `json:"logged,omitempty"`
}

// Attempt is one entry of an App's webhook delivery log, as GitHub's
// deliveries API lists it: one try to send a Delivery, with its outcome.
// Every try is logged, the failed ones too (a receiver that is down is
// status_code 0, "failed to connect to host"), so that a client can find
// what it missed and ask for a redelivery.
type Attempt struct {
	ID int64 `json:"id"`
	// Delivery is the ID of the Delivery this attempt sent.
	Delivery       int64             `json:"delivery"`
	GUID           string            `json:"guid"`
	AppID          int64             `json:"app_id"`
	Event          string            `json:"event"`
	Action         string            `json:"action,omitempty"`
	InstallationID int64             `json:"installation_id,omitempty"`
	RepositoryID   int64             `json:"repository_id,omitempty"`
	DeliveredAt    time.Time         `json:"delivered_at"`
	Redelivery     bool              `json:"redelivery"`
	Duration       float64           `json:"duration"`
	Status         string            `json:"status"`
	StatusCode     int               `json:"status_code"`
	ResponseHeader map[string]string `json:"response_headers,omitempty"`
	ResponseBody   string            `json:"response_body,omitempty"`
}

// HookLogRetention is how long the delivery log keeps an attempt: GitHub
// keeps an App's webhook deliveries for 3 days, and only those can be
// listed or redelivered.
const HookLogRetention = 72 * time.Hour

// logAttempt appends one attempt of d to the hook log and drops the
// entries past retention. The first attempt of a delivery takes the
// delivery's ID, so that the ID a test reads from Delivery is one the
// deliveries API knows. Callers hold s.mu.
func (s *Server) logAttempt(d *Delivery, redelivery bool, code int, status string, rh map[string]string, rb string, dur float64) {
	id := d.ID
	if d.Logged {
		id = s.nextID()
	}
	d.Logged = true
	now := s.now()
	s.st.HookLog = append(s.st.HookLog, &Attempt{
		ID: id, Delivery: d.ID, GUID: d.GUID, AppID: d.AppID, Event: d.Event, Action: d.Action,
		InstallationID: d.InstallationID, RepositoryID: d.RepositoryID, DeliveredAt: now,
		Redelivery: redelivery, Duration: dur, Status: status, StatusCode: code, ResponseHeader: rh, ResponseBody: rb,
	})
	cut := 0
	for cut < len(s.st.HookLog) && now.Sub(s.st.HookLog[cut].DeliveredAt) > HookLogRetention {
		cut++
	}
	if cut > 0 {
		s.st.HookLog = append([]*Attempt(nil), s.st.HookLog[cut:]...)
	}
}

// HookLog returns copies of the delivery log's attempts, oldest first.
func (s *Server) HookLog() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Attempt, 0, len(s.st.HookLog))
	for _, a := range s.st.HookLog {
		out = append(out, *a)
	}
	return out
}

// Pending is true until the sender has finished with a delivery.
func (d *Delivery) Pending() bool { return !d.Done }

// sender posts deliveries in order per repository (one queue and goroutine
// per repository, so a slow receiver for one repository does not hold up
// another), retrying failed attempts with backoff.
type sender struct {
	s      *Server
	client *http.Client
	mu     sync.Mutex
	queues map[string][]*Delivery
	active map[string]bool
	wg     sync.WaitGroup
	closed bool
	done   chan struct{}
	notify chan struct{} // closed and replaced on every delivery outcome
}

func newSender(s *Server) *sender {
	return &sender{
		s: s, client: &http.Client{Timeout: 10 * time.Second},
		queues: map[string][]*Delivery{}, active: map[string]bool{},
		done: make(chan struct{}), notify: make(chan struct{}),
	}
}

func (q *sender) enqueue(key string, d *Delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.queues[key] = append(q.queues[key], d)
	if !q.active[key] {
		q.active[key] = true
		q.wg.Add(1)
		go q.run(key)
	}
}

func (q *sender) run(key string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		list := q.queues[key]
		if len(list) == 0 || q.closed {
			q.active[key] = false
			q.mu.Unlock()
			return
		}
		d := list[0]
		q.queues[key] = list[1:]
		q.mu.Unlock()
		q.deliver(d)
	}
}

// changed wakes everyone waiting for delivery outcomes.
func (q *sender) changed() {
	q.mu.Lock()
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
}

func (q *sender) wait() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.notify
}

func (q *sender) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.done)
	q.mu.Unlock()
	q.wg.Wait()
}

// deliver posts one delivery, with fault injection (drop, duplicate) and
// retries on failure.
func (q *sender) deliver(d *Delivery) {
	s := q.s
	s.mu.Lock()
	app := s.appByID(d.AppID)
	url, secret := "", ""
	if app != nil {
		url, secret = app.WebhookURL, app.WebhookSecret
	}
	f := s.st.Faults
	drop := f.WebhookDropRate > 0 && s.rng.Float64() < f.WebhookDropRate
	dup := f.WebhookDuplicateRate > 0 && s.rng.Float64() < f.WebhookDuplicateRate
	s.mu.Unlock()

	if drop || url == "" {
		s.mu.Lock()
		d.Dropped = drop
		d.Status = "dropped"
		if url == "" {
			d.Status = "no webhook URL"
		}
		d.DeliveredAt = s.now()
		d.Done = true
		s.logAttempt(d, d.Redelivery, 0, d.Status, nil, "", 0)
		s.mu.Unlock()
		s.saveLogged()
		q.changed()
		return
	}
	backoff := s.opts.WebhookBackoff
	for attempt := 0; ; attempt++ {
		code, status, rh, rb, dur := q.post(url, secret, d)
		s.mu.Lock()
		d.Attempts++
		d.StatusCode, d.Status, d.ResponseHeader, d.ResponseBody, d.Duration = code, status, rh, rb, dur
		d.DeliveredAt = s.now()
		// The emulator's own retries are logged as redeliveries: the same
		// GUID sent again, as a person's "Redeliver" would.
		s.logAttempt(d, d.Redelivery || attempt > 0, code, status, rh, rb, dur)
		s.mu.Unlock()
		if code >= 200 && code < 300 {
			break
		}
		if attempt >= s.opts.WebhookRetries {
			s.log.Warn().Str("delivery", d.GUID).Str("event", d.Event).Int("status", code).Msg("webhook delivery failed")
			break
		}
		select {
		case <-time.After(backoff):
		case <-q.done:
			return
		}
		backoff *= 2
	}
	if dup {
		code, status, rh, rb, dur := q.post(url, secret, d)
		s.mu.Lock()
		s.logAttempt(d, d.Redelivery, code, status, rh, rb, dur)
		s.mu.Unlock()
	}
	s.mu.Lock()
	d.Done = true
	s.mu.Unlock()
	s.saveLogged()
	q.changed()
}

// Sign is the X-Hub-Signature-256 value GitHub sends with a webhook body:
// "sha256=" and the hex HMAC-SHA256 of body under the webhook secret. It is
// the one place hoist's tests, demo and benchmarks sign deliveries, so they
// sign exactly as the emulator (and GitHub) does.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signatures(secret string, body []byte) (sha256Hex, sha1Hex string) {
	m1 := hmac.New(sha1.New, []byte(secret))
	m1.Write(body)
	return Sign(secret, body), "sha1=" + hex.EncodeToString(m1.Sum(nil))
}

func (q *sender) post(url, secret string, d *Delivery) (int, string, map[string]string, string, float64) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "Invalid URL: " + err.Error(), nil, "", 0
	}
	for k, v := range d.RequestHeader {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := q.client.Do(req)
	dur := time.Since(start).Seconds()
	if err != nil {
		// GitHub's delivery log says this of a receiver that is down or
		// does not answer in time, with status_code 0.
		status := "failed to connect to host"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			status = "timed out"
		}
		return 0, status, nil, "", dur
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rh := map[string]string{}
	for k := range resp.Header {
		rh[strings.ToLower(k)] = resp.Header.Get(k)
	}
	status := "OK"
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		status = "Invalid HTTP Response: " + strconv.Itoa(resp.StatusCode)
	}
	return resp.StatusCode, status, rh, string(body), dur
}

// emit sends event to every app installed on repo (or only to onlyApp when
// non-zero), adding installation to each payload. payload must not contain
// "installation". Callers hold s.mu.
func (s *Server) emit(repo *Repo, onlyApp int64, event, action string, payload obj) {
	if action != "" {
		payload["action"] = action
	}
	for _, in := range s.installationsFor(repo.FullName()) {
		if onlyApp != 0 && in.AppID != onlyApp {
			continue
		}
		app := s.appByID(in.AppID)
		if app == nil || !app.subscribed(event) {
			continue
		}
		payload["installation"] = installationRef(in)
		s.queueDelivery(app, in.ID, repo, event, action, payload, false)
	}
}

func (a *App) subscribed(event string) bool {
	if len(a.Events) == 0 {
		return true
	}
	for _, e := range a.Events {
		if e == event {
			return true
		}
	}
	return false
}

// queueDelivery records a delivery and hands it to the sender. Callers hold s.mu.
func (s *Server) queueDelivery(app *App, instID int64, repo *Repo, event, action string, payload any, redelivery bool) *Delivery {
	body, err := json.Marshal(payload)
	if err != nil {
		s.log.Error().Err(err).Str("event", event).Msg("encode webhook")
		return nil
	}
	if s.opts.ObserveWebhook != nil {
		s.opts.ObserveWebhook(event, action, body)
	}
	guid := uuid.NewString()
	sig256, sig1 := signatures(app.WebhookSecret, body)
	d := &Delivery{
		ID: s.nextID(), GUID: guid, AppID: app.ID, Event: event, Action: action,
		InstallationID: instID, Payload: body, Redelivery: redelivery, Status: "pending",
		RequestHeader: map[string]string{
			"Accept":                                 "*/*",
			"Content-Type":                           "application/json",
			"User-Agent":                             "GitHub-Hookshot/emulator",
			"X-GitHub-Event":                         event,
			"X-GitHub-Delivery":                      guid,
			"X-GitHub-Hook-ID":                       strconv.FormatInt(app.ID, 10),
			"X-GitHub-Hook-Installation-Target-ID":   strconv.FormatInt(app.ID, 10),
			"X-GitHub-Hook-Installation-Target-Type": "integration",
			"X-Hub-Signature-256":                    sig256,
			"X-Hub-Signature":                        sig1,
		},
	}
	key := "app"
	if repo != nil {
		d.RepositoryID, d.Repo = repo.ID, repo.FullName()
		key = strings.ToLower(repo.FullName())
	}
	s.st.Deliveries = append(s.st.Deliveries, d)
	s.hooks.enqueue(key, d)
	return d
}

// redeliver queues a delivery again with the same GUID and payload, as
// GitHub's "Redeliver" does. Callers hold s.mu.
func (s *Server) redeliver(old *Delivery) *Delivery {
	app := s.appByID(old.AppID)
	d := *old
	d.ID = s.nextID()
	d.Redelivery = true
	d.Status, d.StatusCode, d.Attempts, d.ResponseBody, d.ResponseHeader, d.Dropped, d.Done, d.Logged = "pending", 0, 0, "", nil, false, false, false
	hdr := map[string]string{}
	for k, v := range old.RequestHeader {
		hdr[k] = v
	}
	d.RequestHeader = hdr
	if app != nil {
		hdr["X-Hub-Signature-256"], hdr["X-Hub-Signature"] = signatures(app.WebhookSecret, d.Payload)
	}
	s.st.Deliveries = append(s.st.Deliveries, &d)
	key := "app"
	if d.Repo != "" {
		key = strings.ToLower(d.Repo)
	}
	s.hooks.enqueue(key, &d)
	return &d
}
