package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// uiWait bounds each wait for something a user would see: the 7 MB main
// chunk must load and run first, so it is generous.
const uiWait = 45 * time.Second

// studioTab drives one Chromium tab through Studio the way a user does and
// records what the browser said, for the assertions, the failure message
// and the artifacts.
type studioTab struct {
	t    *testing.T
	ctx  context.Context
	name string      // prefix of the screenshots and the console log
	log  *browserLog // console messages

	mu      sync.Mutex
	urls    map[network.RequestID]string
	status  map[string]int64  // last HTTP status per URL without its query
	blocked map[string]string // URL -> Set-Cookie lines Chromium refused, with the reasons
}

// openTab starts watching the tab of ctx (from newBrowser). Screenshots are
// artifacts named after name; so is the console log, at the end.
func openTab(t *testing.T, ctx context.Context, name string) *studioTab {
	t.Helper()
	p := &studioTab{t: t, ctx: ctx, name: name, log: &browserLog{local: "none:", urls: map[network.RequestID]string{}},
		urls: map[network.RequestID]string{}, status: map[string]int64{}, blocked: map[string]string{}}
	if err := chromedp.Listen(ctx, p.on); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		p.log.mu.Lock()
		defer p.log.mu.Unlock()
		saveConsole(t, p.log, name+".console.txt")
	})
	return p
}

func (p *studioTab) on(ev any) {
	p.log.on(ev)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		u, _, _ := strings.Cut(e.Response.URL, "?")
		p.status[u] = e.Response.Status
	case *network.EventResponseReceivedExtraInfo:
		for _, c := range e.BlockedCookies {
			reasons := make([]string, len(c.BlockedReasons))
			for i, r := range c.BlockedReasons {
				reasons[i] = string(r)
			}
			p.blocked[p.urls[e.RequestID]] += c.CookieLine + " (" + strings.Join(reasons, ", ") + ")\n"
		}
	}
}

// statusOf is the last status the page got for url with any query, 0 when
// it made no such request.
func (p *studioTab) statusOf(url string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status[url]
}

// blockedCookies are the Set-Cookie lines Chromium refused from url.
func (p *studioTab) blockedCookies(url string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked[url]
}

func (p *studioTab) open(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
		p.fail("open %s: %v", url, err)
	}
}

func (p *studioTab) reload() {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Reload()); err != nil {
		p.fail("reload: %v", err)
	}
}

// waitText waits until the page shows every one of texts.
func (p *studioTab) waitText(texts ...string) {
	p.t.Helper()
	if p.waitAny(texts) != 0 {
		p.fail("the page never showed %q", texts)
	}
}

// waitAny waits until the page shows every text of one of the groups and
// returns that group's index, or -1 when none showed up in time. It polls
// from Go: a poll inside the page would end with a full-page navigation.
func (p *studioTab) waitAny(groups ...[]string) int {
	p.t.Helper()
	js, _ := json.Marshal(groups)
	expr := `(function (groups) {
  var body = document.body ? document.body.innerText : '';
  for (var i = 0; i < groups.length; i++) {
    if (groups[i].every(function (s) { return body.indexOf(s) >= 0; })) return i;
  }
  return -1;
})(` + string(js) + `)`
	for deadline := time.Now().Add(uiWait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if i, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](expr)); err == nil && i >= 0 {
			return i
		}
	}
	return -1
}

// click clicks the first element matching an XPath, once it is visible.
func (p *studioTab) click(xpath string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiWait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(xpath, chromedp.NodeVisible)); err != nil {
		p.fail("click %s: %v", xpath, err)
	}
}

func (p *studioTab) typeInto(css, text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiWait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(css, text, chromedp.NodeVisible)); err != nil {
		p.fail("type into %s: %v", css, err)
	}
}

func (p *studioTab) location() string {
	p.t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.fail("location: %v", err)
	}
	return loc
}

func (p *studioTab) text() string {
	text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return text
}

func (p *studioTab) shot(step string) {
	p.t.Helper()
	screenshot(p.t, p.ctx, p.name+"-"+step+".png")
}

// fail saves a screenshot of what the user saw and stops the test.
func (p *studioTab) fail(format string, args ...any) {
	p.t.Helper()
	p.shot("failed")
	args = append(args, p.location(), firstLines(p.text(), 12))
	p.t.Fatalf(format+"\nat %s the page shows:\n%s", args...)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

// What Studio shows (mastra 1.31.0), in one place.
const (
	signInGate   = "Sign in to continue" // a protected page without a session
	signInTitle  = "Sign in to Mastra Studio"
	weatherAgent = "Weather Agent"
	supportAgent = "Support Bot"
	supportBrief = "You answer support questions."
	dottedAgent  = "support.bot-v1.2"
	workflowID   = "greet-workflow"
)

// signIn goes from Studio's sign-in gate through its credentials form: the
// test app's SimpleAuth takes the token as the password, any email.
func (p *studioTab) signIn() {
	p.t.Helper()
	p.waitText(signInGate)
	p.shot("sign-in-gate")
	p.click(`//button[contains(., "Sign in")]`)
	p.waitText(signInTitle)
	p.typeInto("#input-email", "e2e@example.com")
	p.typeInto("#input-password", mastraToken)
	p.click(`//form//button[contains(., "Sign in")]`)
}

// expectAgents waits for the agents list with both of the app's agents.
func (p *studioTab) expectAgents(step string) {
	p.t.Helper()
	p.waitText(weatherAgent, supportAgent)
	p.shot(step)
}

// runWorkflow opens the workflow, runs it with an input and waits for the
// output its two steps compute, as Studio shows it under "Run data".
func (p *studioTab) runWorkflow(studioURL string) {
	p.t.Helper()
	p.open(studioURL + "workflows/" + workflowID + "/graph")
	p.waitText(workflowID, "shout", "sign", "Run")
	p.typeInto("textarea#text", "hello studio")
	p.click(`//form//button[contains(., "Run")]`)
	p.waitText("Success")
	p.click(`//button[contains(., "Run data")]`)
	p.waitText("HELLO STUDIO (baked by studiobake)")
	p.shot("workflow-result")
}

// buildCLI runs `studiobake build` on the real Studio tree and returns the
// output directory.
func buildCLI(t *testing.T, bin, studio string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dist")
	args = append([]string{"build", "--quiet", "--studio", studio, "--out", out, "--set", "MASTRA_TELEMETRY_DISABLED=true"}, args...)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("studiobake %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}
