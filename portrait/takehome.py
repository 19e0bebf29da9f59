"""Take it home: a one-time link, shown as a QR code, that hands a kiosk portrait to a phone.

The portrait stays in this process's memory behind a random token; the link works once, or for
:data:`LIFETIME_S` seconds, whichever ends first, and then the bytes are dropped. Nothing goes to
disk or to any cloud: the phone fetches the picture from the kiosk itself over the local network.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import segno
from PIL import Image

LIFETIME_S = 300.0
#: Portraits waiting at once (~100 kB each): a kiosk makes one a minute; the oldest go first.
CAPACITY = 64
JPEG_QUALITY = 92


@dataclass(frozen=True)
class Parcel:
    body: bytes
    expires: float


class TakeHome:
    """Portraits waiting for their one download, by token."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._parcels: OrderedDict[str, Parcel] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image: np.ndarray) -> str:
        """Keep ``image`` (H×W×3 uint8) as a JPEG for one download; returns its token."""
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        token = secrets.token_urlsafe(18)  # 144 random bits: not guessable, safe in a URL path
        with self._lock:
            self._drop_expired()
            while len(self._parcels) >= CAPACITY:
                self._parcels.popitem(last=False)
            self._parcels[token] = Parcel(buffer.getvalue(), self._clock() + LIFETIME_S)
        return token

    def waiting(self, token: str) -> bool:
        """Whether ``token``'s portrait still waits (looking does not use the link up)."""
        with self._lock:
            self._drop_expired()
            return token in self._parcels

    def take(self, token: str) -> bytes | None:
        """The JPEG behind ``token``, once; None when it was taken, expired, or never existed."""
        with self._lock:
            self._drop_expired()
            parcel = self._parcels.pop(token, None)
        return parcel.body if parcel else None

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._parcels)

    def _drop_expired(self) -> None:
        now = self._clock()
        for token in [t for t, parcel in self._parcels.items() if parcel.expires <= now]:
            del self._parcels[token]


def qr_data_url(link: str) -> str:
    """``link`` as a QR code (PNG data URL, dark on light, quiet zone kept) for a phone camera."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=8, border=4, dark="#1b1512", light="#f4eee3")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


#: Interfaces a phone on the room's network never reaches: containers' bridges and tunnels.
VIRTUAL_INTERFACES = ("docker", "veth", "br-", "virbr", "tun", "tap", "wg", "lo")


def phone_address(host: str, port: int, address: str | None = None) -> str | None:
    """Where a phone on the kiosk's network reaches this server, or None when it cannot (the
    server listens on loopback only): ``address`` if given, else the listening address, else,
    listening on every interface, the first IPv4 address of a network interface that is up,
    neither loopback, link-local nor a container bridge or tunnel (``--address`` to choose)."""
    if address:
        return address.rstrip("/")
    if host not in ("0.0.0.0", "::"):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:  # a host name
            return None if host == "localhost" else f"http://{host}:{port}"
        if ip.is_loopback:
            return None
        return f"http://[{ip}]:{port}" if ip.version == 6 else f"http://{ip}:{port}"
    import psutil

    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    for name, entries in psutil.net_if_addrs().items():
        if name not in up or name.startswith(VIRTUAL_INTERFACES):
            continue
        for entry in entries:
            if entry.family == socket.AF_INET:
                ip = ipaddress.ip_address(entry.address)
                if not (ip.is_loopback or ip.is_link_local):
                    return f"http://{ip}:{port}"
    return None
