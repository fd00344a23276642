package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func init() {
	register(subcommand{name: "instance", summary: "launch fleet instances and change their settings on a hoist server",
		run: func(ctx context.Context, args []string) int { return instanceMain(ctx, args, os.Stdout, os.Stderr) }})
}

const instanceUsage = `usage: hoist instance <verb> [flags]

  create NAME --repo OWNER/REPO [--plan trial|paid] [--settings JSON|@FILE] [--wait]
  list        --repo OWNER/REPO
  get NAME    --repo OWNER/REPO
  settings NAME --repo OWNER/REPO (--set JSON|@FILE | --rollback VERSION | --history)
  suspend NAME  --repo OWNER/REPO [--reason TEXT]
  resume NAME   --repo OWNER/REPO
  upgrade NAME  --repo OWNER/REPO        (trial to paid)
  delete NAME   --repo OWNER/REPO --confirm NAME

Talks to the fleet API of a hoist server (--server, HOIST_SERVER) with a
bearer token of its fleet.tokens (--token, HOIST_FLEET_TOKEN). --set is a
JSON merge patch of the current settings: a key set to null is removed.
See docs/fleet.md.
`

func instanceMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		code := 2
		if len(args) > 0 {
			w, code = stdout, 0
		}
		fmt.Fprint(w, instanceUsage)
		return code
	}
	verb := args[0]
	fs := flag.NewFlagSet("instance "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), instanceUsage); fs.PrintDefaults() }
	server := fs.String("server", os.Getenv("HOIST_SERVER"), "hoist server URL")
	token := fs.String("token", os.Getenv("HOIST_FLEET_TOKEN"), "bearer token of the server's fleet.tokens")
	repo := fs.String("repo", "", "the fleet's repository, owner/repo")
	plan := fs.String("plan", "trial", "plan of a new instance: trial or paid")
	settings := fs.String("settings", "", "settings of a new instance: JSON, or @file")
	set := fs.String("set", "", "settings change: a JSON merge patch, or @file")
	rollback := fs.Int("rollback", 0, "restore this settings version")
	history := fs.Bool("history", false, "list the settings history")
	wait := fs.Bool("wait", false, "create: wait until the instance is live (or failed)")
	reason := fs.String("reason", "", "suspend: the reason, shown on the maintenance page")
	confirm := fs.String("confirm", "", "delete: the instance's name again")
	pos, code, ok := parseInterspersed(fs, args[1:])
	if !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hoist instance %s: %s\n", verb, fmt.Sprintf(format, a...))
		return 1
	}
	if *server == "" || *token == "" || *repo == "" {
		return fail("--server, --token and --repo are required (or HOIST_SERVER and HOIST_FLEET_TOKEN)")
	}
	owner, name, okRepo := strings.Cut(*repo, "/")
	if !okRepo {
		return fail("--repo must be owner/repo")
	}
	base := strings.TrimSuffix(*server, "/") + "/api/fleets/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/instances"
	c := &fleetClient{token: *token, http: &http.Client{Timeout: 60 * time.Second}}
	needName := func() (string, bool) {
		if len(pos) != 1 {
			return "", false
		}
		return pos[0], true
	}
	var status int
	var out []byte
	var err error
	switch verb {
	case "create":
		inst, ok := needName()
		if !ok {
			return fail("name the instance: hoist instance create NAME")
		}
		body := map[string]any{"name": inst, "plan": *plan}
		if *settings != "" {
			var doc map[string]any
			if err := readJSONArg(*settings, &doc); err != nil {
				return fail("--settings: %v", err)
			}
			body["settings"] = doc
		}
		status, out, err = c.do(ctx, "POST", base, body)
		if err == nil && status < 300 && *wait {
			for i := 0; i < 600; i++ {
				status, out, err = c.do(ctx, "GET", base+"/"+url.PathEscape(inst), nil)
				var v struct{ State string }
				if err != nil || json.Unmarshal(out, &v) != nil || v.State == "live" || v.State == "failed" {
					break
				}
				time.Sleep(time.Second)
			}
		}
	case "list":
		status, out, err = c.do(ctx, "GET", base, nil)
	case "get":
		inst, ok := needName()
		if !ok {
			return fail("name the instance")
		}
		status, out, err = c.do(ctx, "GET", base+"/"+url.PathEscape(inst), nil)
	case "settings":
		inst, ok := needName()
		if !ok {
			return fail("name the instance")
		}
		u := base + "/" + url.PathEscape(inst) + "/settings"
		switch {
		case *history:
			status, out, err = c.do(ctx, "GET", u, nil)
		case *rollback > 0:
			status, out, err = c.do(ctx, "PATCH", u, map[string]any{"rollback_to": *rollback})
		case *set != "":
			var patch map[string]any
			if err := readJSONArg(*set, &patch); err != nil {
				return fail("--set: %v", err)
			}
			status, out, err = c.do(ctx, "PATCH", u, map[string]any{"patch": patch})
		default:
			return fail("give --set, --rollback or --history")
		}
	case "suspend", "resume", "upgrade":
		inst, ok := needName()
		if !ok {
			return fail("name the instance")
		}
		var body any
		if verb == "suspend" && *reason != "" {
			body = map[string]any{"reason": *reason}
		}
		status, out, err = c.do(ctx, "POST", base+"/"+url.PathEscape(inst)+"/"+verb, body)
	case "delete":
		inst, ok := needName()
		if !ok {
			return fail("name the instance")
		}
		status, out, err = c.do(ctx, "DELETE", base+"/"+url.PathEscape(inst)+"?confirm="+url.QueryEscape(*confirm), nil)
	default:
		fmt.Fprintf(stderr, "hoist instance: unknown verb %q\n\n%s", verb, instanceUsage)
		return 2
	}
	if err != nil {
		return fail("%v", err)
	}
	if status >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return fail("%s (HTTP %d)", e.Error, status)
		}
		return fail("HTTP %d: %s", status, bytes.TrimSpace(out))
	}
	stdout.Write(out)
	return 0
}

type fleetClient struct {
	token string
	http  *http.Client
}

func (c *fleetClient) do(ctx context.Context, method, u string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, out, err
}

// readJSONArg reads a JSON object given inline or as @file.
func readJSONArg(arg string, v any) error {
	data := []byte(arg)
	if f, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		data = b
	}
	return json.Unmarshal(data, v)
}
