"""Headless Chromium (Debian's chromium-headless-shell) driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, each JSON message ended by a NUL byte).
No websocket library, no network: the tests load the report file and watch's page on loopback.

    with Browser() as b:
        page = b.open("file:///tmp/r.html", width=1300, height=2000)
        page.wait("window.gdReport && window.gdReport.rendered >= 1", 15)
        info = page.eval("JSON.stringify(window.gdReport)")
        page.screenshot("/tmp/shot.png")
        page.errors   # console errors, uncaught exceptions, CSP violations, failed loads
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CANDIDATES = ("chromium-headless-shell", "chromium", "chromium-browser")


def find():
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    def __init__(self, browser, session):
        self.b, self.session = browser, session
        self.errors = []
        self.loaded = False

    def send(self, method, params=None, timeout=20):
        return self.b.send(method, params, session=self.session, timeout=timeout)

    def eval(self, expr, timeout=20):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.eval(f"!!({expr})"):
                return True
            self.b.pump(0.05)
        return False

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, timeout=60)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))


class Browser:
    def __init__(self, exe=None):
        self.exe = exe or find()
        if not self.exe:
            raise FileNotFoundError("no headless Chromium (apt-get install chromium-headless-shell)")
        self.profile = tempfile.mkdtemp(prefix="gd-chromium-")
        cmd_r, cmd_w = os.pipe()   # we write commands, it reads fd 3
        rep_r, rep_w = os.pipe()   # it writes replies on fd 4, we read

        def fds():  # in the child: the pipe ends at exactly 3 and 4, whatever numbers they had
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 100)
            b = fcntl.fcntl(rep_w, fcntl.F_DUPFD, 100)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.profile, "stderr"), "w"),
            preexec_fn=fds, close_fds=False)  # (close_fds would close 3 and 4 after preexec_fn made them)
        os.close(cmd_r)
        os.close(rep_w)
        self.w, self.r = cmd_w, rep_r
        self.buf = b""
        self.next_id = 0
        self.replies = {}
        self.pages = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def pump(self, timeout):
        """Reads what arrived within timeout; dispatches events to their pages."""
        ready, _, _ = select.select([self.r], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self.r, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the pipe (crashed?)")
        self.buf += chunk
        while b"\0" in self.buf:
            raw, self.buf = self.buf.split(b"\0", 1)
            msg = json.loads(raw)
            if "id" in msg:
                self.replies[msg["id"]] = msg
            else:
                self.event(msg)

    def event(self, msg):
        page = self.pages.get(msg.get("sessionId"))
        if not page:
            return
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            page.errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            page.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                            for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            page.errors.append(f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}")
        elif m == "Page.loadEventFired":
            page.loaded = True

    def send(self, method, params=None, session=None, timeout=20):
        self.next_id += 1
        i = self.next_id
        msg = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        end = time.time() + timeout
        while i not in self.replies:
            if time.time() > end:
                raise TimeoutError(f"{method}: no reply in {timeout} s")
            self.pump(0.1)
        r = self.replies.pop(i)
        if "error" in r:
            raise RuntimeError(f"{method}: {r['error']}")
        return r.get("result", {})

    def open(self, url, width=1300, height=2000, timeout=30):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self.pages[session] = page
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            page.send(m)
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.started = time.time()
        page.send("Page.navigate", {"url": url})
        end = time.time() + timeout
        while not page.loaded and time.time() < end:
            self.pump(0.1)
        if not page.loaded:
            raise TimeoutError(f"{url}: not loaded in {timeout} s")
        return page
