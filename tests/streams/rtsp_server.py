"""A GStreamer RTSP server that plays cameras for the stream engine's tests and benchmarks.

Run it with the SYSTEM Python, which has PyGObject and GstRtspServer (not the project's venv):

    /usr/bin/python3 tests/streams/rtsp_server.py --port 8554 [--control-port 8555]
        [--auth-port A --user U --password P] [--mount "NAME KIND key=value ..."]...

It prints `ready PORT AUTH_PORT` once it listens, then reads commands, one per line, from stdin
(and from `--control-port` on localhost when given); each is answered by one line, `ok ...` or
`error ...`:

    add NAME KIND [key=value ...]   serve rtsp://127.0.0.1:PORT/NAME (answers with the URL)
    remove NAME                     take the mount away and cut its clients (a camera dying)
    auth basic|digest|both          which schemes protected mounts offer
    list                            the mounts
    quit

Kinds of mount (every mount is shared: one encoder however many clients):
    testsrc  videotestsrc, encoded live. width=320 height=240 fps=15 bitrate=500 (kbit/s)
             gop=1 (seconds) pattern=ball codec=h264|h265
    file     path=FILE.mp4: its H.264 as recorded, looped, in real time (no re-encoding)
             (it restarts at the file's start when the mount's first client comes)
    camera   path=FILE.mp4: decoded, scaled, re-encoded like a camera, looped.
             width=1280 height=720 fps=15 bitrate=2000 gop=2
Any kind takes auth=1 (needs --user and --password): the mount is served on AUTH_PORT, where
clients must authenticate (Basic or Digest, see `auth`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import shlex
import socket
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)

ROLE_ANONYMOUS = "anonymous"
ROLE_USER = "user"
AUTH_METHODS = {
    "basic": int(GstRtsp.RTSPAuthMethod.BASIC),
    "digest": int(GstRtsp.RTSPAuthMethod.DIGEST),
    "both": int(GstRtsp.RTSPAuthMethod.BASIC) | int(GstRtsp.RTSPAuthMethod.DIGEST),
}


def set_auth_methods(auth: GstRtspServer.RTSPAuth, methods: int) -> None:
    """Offer these schemes; through C, as the binding sees the flags as an enum and refuses 3."""
    library = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    pointer_of = ctypes.pythonapi.PyCapsule_GetPointer
    pointer_of.restype = ctypes.c_void_p
    pointer_of.argtypes = [ctypes.py_object, ctypes.c_char_p]
    library.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
    library.gst_rtsp_auth_set_supported_methods(pointer_of(auth.__gpointer__, None), methods)


class CommandError(Exception):
    """A command that cannot be carried out; its message goes back on the control line."""


def _fraction(text: str) -> str:
    rate = Fraction(text).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def _encoder(codec: str, fps: str, gop: float, bitrate: int) -> str:
    """Encoder and payloader like a camera's: a key exactly every `gop` seconds (no scene cuts)."""
    key_every = max(1, round(float(Fraction(fps)) * gop))
    if codec == "h265":
        return (
            f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={key_every}"
            f" bitrate={bitrate} option-string=scenecut=0 ! video/x-h265,profile=main"
            " ! rtph265pay name=pay0 pt=96 config-interval=-1"
        )
    if codec != "h264":
        raise CommandError(f"codec must be h264 or h265, not {codec}")
    return (
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={key_every}"
        f" bitrate={bitrate} option-string=scenecut=0 ! video/x-h264,profile=constrained-baseline"
        " ! rtph264pay name=pay0 pt=96 config-interval=-1"
    )


class Feeder:
    """Plays a file in real time, forever, and pushes its buffers into the mount's appsrc.

    The file pipeline runs on its own, so looping (a flushing seek at each end) never
    disturbs the RTSP pipeline: its appsrc stamps buffers as they arrive, like a live camera.
    """

    def __init__(self, name: str, description: str, restart_on_attach: bool = False) -> None:
        self.name = name
        self.restart_on_attach = restart_on_attach
        self.pipeline = Gst.parse_launch(
            f"{description} ! appsink name=out sync=true emit-signals=true max-buffers=2"
        )
        self.caps: Gst.Caps | None = None
        self.targets: list[Gst.Element] = []
        self._lock = threading.Lock()
        sink = self.pipeline.get_by_name("out")
        sink.connect("new-sample", self._on_sample)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)
        self.pipeline.set_state(Gst.State.PLAYING)

    def attach(self, appsrc: Gst.Element) -> None:
        with self._lock:
            if self.caps is not None:
                appsrc.set_property("caps", self.caps)
            self.targets.append(appsrc)
        if self.restart_on_attach:
            # Recorded H.264 passes through as is: start again at its first keyframe, or a new
            # client could wait a whole GOP (4.8 s for the car footage) for its SDP.
            self.pipeline.seek_simple(
                Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0
            )
            # A shared mount makes one media for all its clients: this runs when the first
            # client comes (again only after all have left). bench_streams.py counts these.
            print(f"feeder {self.name}: restarted at the start", file=sys.stderr, flush=True)

    def detach(self, appsrc: Gst.Element) -> None:
        with self._lock:
            if appsrc in self.targets:
                self.targets.remove(appsrc)

    def stop(self) -> None:
        with self._lock:
            self.targets.clear()
        bus = self.pipeline.get_bus()
        bus.remove_signal_watch()
        self.pipeline.set_state(Gst.State.NULL)

    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.ERROR
        caps = sample.get_caps()
        with self._lock:
            if self.caps is None or not caps.is_equal(self.caps):
                self.caps = caps
                for target in self.targets:
                    target.set_property("caps", caps)
            targets = list(self.targets)
        for target in targets:
            buffer = sample.get_buffer().copy()
            # The mount's appsrc stamps it on arrival (do-timestamp).
            buffer.pts = buffer.dts = buffer.duration = Gst.CLOCK_TIME_NONE
            target.emit("push-buffer", buffer)
        return Gst.FlowReturn.OK

    def _on_message(self, bus: Gst.Bus, message: Gst.Message) -> None:
        if message.type == Gst.MessageType.EOS:
            self.pipeline.seek_simple(
                Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0
            )
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print(f"feeder {self.name}: {error.message} ({debug})", file=sys.stderr, flush=True)


class Mount:
    """One path on the server: its factory, its file feeder if any, and the media it made."""

    def __init__(self, name: str, kind: str, params: dict[str, str], protected: bool) -> None:
        self.name = name
        self.kind = kind
        self.params = params
        self.protected = protected
        self.medias: list[GstRtspServer.RTSPMedia] = []
        self.feeder: Feeder | None = None
        self.factory = GstRtspServer.RTSPMediaFactory()
        self.factory.set_shared(True)
        self.factory.set_launch(f"( {self._pipeline()} )")
        roles = [ROLE_USER] if protected else [ROLE_USER, ROLE_ANONYMOUS]
        for role in roles:
            self.factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    f"{role}, media.factory.access=(boolean)true,"
                    " media.factory.construct=(boolean)true"
                )
            )
        self.factory.connect("media-configure", self._on_media)

    def _param(self, key: str, default: str) -> str:
        return self.params.get(key, default)

    def _pipeline(self) -> str:
        p = self._param
        if self.kind == "testsrc":
            fps = _fraction(p("fps", "15"))
            return (
                f"videotestsrc is-live=true pattern={p('pattern', 'ball')}"
                f" ! video/x-raw,width={p('width', '320')},height={p('height', '240')},"
                f"framerate={fps} ! "
                + _encoder(p("codec", "h264"), fps, float(p("gop", "1")), int(p("bitrate", "500")))
            )
        if "path" not in self.params:
            raise CommandError(f"a {self.kind} mount needs path=FILE")
        path = self.params["path"]
        appsrc = "appsrc name=src is-live=true format=time do-timestamp=true max-bytes=50000000"
        if self.kind == "file":
            self.feeder = Feeder(
                self.name,
                f"filesrc location={shlex.quote(path)} ! qtdemux name=d d.video_0 ! queue"
                " ! h264parse config-interval=-1"
                " ! video/x-h264,stream-format=byte-stream,alignment=au",
                restart_on_attach=True,
            )
            return f"{appsrc} ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1"
        if self.kind == "camera":
            fps = _fraction(p("fps", "15"))
            self.feeder = Feeder(
                self.name,
                f"filesrc location={shlex.quote(path)} ! qtdemux name=d d.video_0 ! queue"
                " ! decodebin ! videoconvert ! videoscale ! videorate"
                f" ! video/x-raw,format=I420,width={p('width', '1280')},"
                f"height={p('height', '720')},framerate={fps}",
            )
            encoder = _encoder(
                p("codec", "h264"), fps, float(p("gop", "2")), int(p("bitrate", "2000"))
            )
            return f"{appsrc} ! queue max-size-buffers=2 leaky=downstream ! {encoder}"
        raise CommandError(f"unknown kind {self.kind!r}: testsrc, file or camera")

    def _on_media(self, factory: Any, media: GstRtspServer.RTSPMedia) -> None:
        self.medias.append(media)
        if self.feeder is not None:
            appsrc = media.get_element().get_by_name("src")
            self.feeder.attach(appsrc)
            feeder = self.feeder

            def detach(_media: Any) -> None:
                feeder.detach(appsrc)

            media.connect("unprepared", detach)

    def stop(self) -> None:
        for media in self.medias:
            media.unprepare()
        self.medias.clear()
        if self.feeder is not None:
            self.feeder.stop()


class Server:
    """Two RTSP servers: open mounts on `port`, auth=1 mounts on `auth_port`.

    GstRtspServer's authentication is per server: with a default (anonymous) token, a mount
    the anonymous role may not see answers 404 instead of challenging; without one, every
    mount challenges. So protected mounts live on a server of their own.
    """

    def __init__(self, port: int, auth_port: int, user: str | None, password: str | None) -> None:
        self.public = self._server(port)
        self.protected = self._server(auth_port)
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE_ANONYMOUS)
        open_auth = GstRtspServer.RTSPAuth()
        open_auth.set_default_token(anonymous)
        self.public.set_auth(open_auth)
        self.auth = GstRtspServer.RTSPAuth()
        if user is not None and password is not None:
            token = GstRtspServer.RTSPToken()
            token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE_USER)
            self.auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            self.auth.add_digest(user, password, token)
        set_auth_methods(self.auth, AUTH_METHODS["both"])
        self.protected.set_auth(self.auth)
        self.mounts: dict[str, Mount] = {}
        self.user = user
        self.public.attach(None)
        self.protected.attach(None)

    @staticmethod
    def _server(port: int) -> GstRtspServer.RTSPServer:
        server = GstRtspServer.RTSPServer()
        server.set_address("127.0.0.1")
        server.set_service(str(port))
        return server

    @property
    def port(self) -> int:
        port: int = self.public.get_bound_port()
        return port

    @property
    def auth_port(self) -> int:
        port: int = self.protected.get_bound_port()
        return port

    def command(self, line: str) -> str:
        words = shlex.split(line)
        if not words:
            raise CommandError("empty command")
        verb, args = words[0], words[1:]
        if verb == "add" and len(args) >= 2:
            return self.add(args[0], args[1], args[2:])
        if verb == "remove" and len(args) == 1:
            return self.remove(args[0])
        if verb == "auth" and len(args) == 1 and args[0] in AUTH_METHODS:
            set_auth_methods(self.auth, AUTH_METHODS[args[0]])
            return f"auth {args[0]}"
        if verb == "list":
            return " ".join(sorted(self.mounts))
        raise CommandError(f"unknown command {line!r}")

    def add(self, name: str, kind: str, settings: list[str]) -> str:
        if name in self.mounts:
            raise CommandError(f"mount {name} exists")
        params = dict(item.partition("=")[::2] for item in settings)
        protected = params.pop("auth", "0") in ("1", "true", "yes")
        if protected and self.user is None:
            raise CommandError("auth=1 needs the server started with --user and --password")
        mount = Mount(name, kind, params, protected)
        server = self.protected if protected else self.public
        server.get_mount_points().add_factory(f"/{name}", mount.factory)
        self.mounts[name] = mount
        return f"rtsp://127.0.0.1:{server.get_bound_port()}/{name}"

    def remove(self, name: str) -> str:
        mount = self.mounts.pop(name, None)
        if mount is None:
            raise CommandError(f"no mount {name}")
        server = self.protected if mount.protected else self.public
        server.get_mount_points().remove_factory(f"/{name}")
        medias = list(mount.medias)

        def uses_mount(client: GstRtspServer.RTSPClient) -> bool:
            found = False

            def check(_client: Any, session: GstRtspServer.RTSPSession, *_: Any) -> Any:
                nonlocal found
                for session_media in session.filter(None):
                    if session_media.get_media() in medias:
                        found = True
                return GstRtspServer.RTSPFilterResult.KEEP

            client.session_filter(check)
            return found

        def cut(_server: Any, client: GstRtspServer.RTSPClient, *_: Any) -> Any:
            if uses_mount(client):
                return GstRtspServer.RTSPFilterResult.REMOVE  # closes its connection
            return GstRtspServer.RTSPFilterResult.KEEP

        server.client_filter(cut)
        mount.stop()
        return f"removed {name}"


def run_on_loop(action: Callable[[], str]) -> str:
    """Run `action` on the GLib main loop and wait for its answer line."""
    done = threading.Event()
    answer: list[str] = []

    def call() -> bool:
        try:
            answer.append(f"ok {action()}".rstrip())
        except Exception as exc:  # a bad pipeline (GLib.Error) must still answer
            answer.append(f"error {exc}")
        done.set()
        return False

    GLib.idle_add(call)
    done.wait()
    return answer[0]


def serve_lines(
    server: Server, loop: GLib.MainLoop, lines: Any, reply: Callable[[str], None]
) -> bool:
    """Answer commands until `quit` (True) or the end of input (False)."""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line == "quit":
            reply("ok quit")
            GLib.idle_add(loop.quit)
            return True
        reply(run_on_loop(functools.partial(server.command, line)))
    return False


def control_port(server: Server, loop: GLib.MainLoop, port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("r", encoding="utf-8") as reader:

            def reply(text: str) -> None:
                conn.sendall((text + "\n").encode("utf-8"))

            serve_lines(server, loop, reader, reply)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554, help="RTSP port (0: any free one)")
    parser.add_argument(
        "--auth-port", type=int, default=0, help="RTSP port of auth=1 mounts (0: any free one)"
    )
    parser.add_argument("--control-port", type=int, help="also take commands on this TCP port")
    parser.add_argument("--user", help="user for auth=1 mounts")
    parser.add_argument("--password", help="password for auth=1 mounts")
    parser.add_argument("--mount", action="append", default=[], help='"NAME KIND key=value ..."')
    parser.add_argument("--keep-on-eof", action="store_true", help="keep serving when stdin ends")
    args = parser.parse_args()

    server = Server(args.port, args.auth_port, args.user, args.password)
    loop = GLib.MainLoop()
    for spec in args.mount:
        words = shlex.split(spec)
        server.add(words[0], words[1], words[2:])
    if args.control_port is not None:
        control_port(server, loop, args.control_port)

    def reply(text: str) -> None:
        print(text, flush=True)

    def read_stdin() -> None:
        if not serve_lines(server, loop, sys.stdin, reply) and not args.keep_on_eof:
            GLib.idle_add(loop.quit)

    threading.Thread(target=read_stdin, daemon=True).start()
    print(f"ready {server.port} {server.auth_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run()
    for mount in server.mounts.values():
        mount.stop()


if __name__ == "__main__":
    main()
