"""Field encryption, keyed hashing, tokens and random public ids; keys come from configuration.

Encrypted values are AES-256-GCM blobs laid out as::

    version (1 byte) | key-id length (1 byte) | key id (utf-8) | nonce (12 bytes) | ciphertext+tag

The associated data binds a value to its table, column and row (the row's random public id), so a
ciphertext copied into another row or column fails to decrypt. Personal data is encrypted with a
data key of its own per person (signer, author); that data key is stored wrapped by the configured
key ring (the master keys live in configuration, never in the database).

Destroying a person's wrapped key makes their data unreadable in the live database at once. A
backup taken earlier still holds the wrapped key, so it stays readable for as long as the ring key
that wrapped it is configured: rotate (`flask keys rotate`), then remove the old ring key from
CAMPAIGN_DATA_KEYS to make every older backup, and the erased people in it, unreadable for good.
"""

import hashlib
import hmac
import secrets
import time
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, request

BLOB_VERSION = 1
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A value could not be authenticated: wrong key, wrong row, or tampered."""


def aad_for(table, column, row_id):
    return f"{table}|{column}|{row_id}".encode()


def _pack(key_id, nonce, ciphertext):
    kid = key_id.encode()
    if len(kid) > 255:
        raise ValueError("key id too long")
    return bytes([BLOB_VERSION, len(kid)]) + kid + nonce + ciphertext


def _unpack(blob):
    """Split a blob into (key id, nonce, ciphertext); DecryptionError when it is malformed."""
    if not blob or len(blob) < 2 or blob[0] != BLOB_VERSION:
        raise DecryptionError("unknown blob version")
    start = 2 + blob[1]
    # 16 bytes: the GCM tag, present even for an empty plaintext.
    if len(blob) < start + NONCE_BYTES + 16:
        raise DecryptionError("truncated value")
    try:
        key_id = bytes(blob[2:start]).decode()
    except UnicodeDecodeError as exc:
        raise DecryptionError("malformed key id") from exc
    return key_id, blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]


def blob_key_id(blob):
    """The key id recorded in a blob (no decryption)."""
    return _unpack(blob)[0]


def encrypt(key, key_id, plaintext, aad):
    """Encrypt bytes or text under `key`; the result records `key_id`."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _pack(key_id, nonce, AESGCM(key).encrypt(nonce, data, aad))


def decrypt(key, blob, aad):
    """Decrypt a blob made by `encrypt`; raises DecryptionError if it does not authenticate."""
    _key_id, nonce, ciphertext = _unpack(blob)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise DecryptionError("value does not authenticate") from exc


class KeyRing:
    """The configured master keys: the first encrypts, all decrypt."""

    def __init__(self, keys):
        if not keys:
            raise ValueError("the key ring needs at least one key")
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise ValueError("key ids in the key ring must be unique")
        if any(len(key) != 32 for key in self._keys.values()):
            raise ValueError("key ring keys must be 32 bytes (AES-256)")
        self.primary_id = keys[0][0]

    @property
    def ids(self):
        return list(self._keys)

    def encrypt(self, plaintext, aad):
        return encrypt(self._keys[self.primary_id], self.primary_id, plaintext, aad)

    def decrypt(self, blob, aad):
        kid = blob_key_id(blob)
        if kid not in self._keys:
            raise DecryptionError("key id not in the key ring")
        return decrypt(self._keys[kid], blob, aad)

    def needs_rotation(self, blob):
        return blob_key_id(blob) != self.primary_id


def keyring():
    return current_app.extensions["campaign_keyring"]


def new_data_key():
    return AESGCM.generate_key(bit_length=256)


def normalize_identifier(value):
    """Canonical form of an e-mail address or name used for de-duplication.

    Unicode compatibility caseless matching (Unicode standard 3.13, D146:
    NFKD(casefold(NFKD(casefold(NFD(x)))))), recomposed to NFKC, without surrounding white space.
    Casefolding after a single NFKC is not enough: some letters (e.g. Greek with dialytika and
    tonos) then differ from their capital form.
    """
    folded = unicodedata.normalize("NFD", value or "").casefold()
    folded = unicodedata.normalize("NFKD", folded).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def keyed_hash(value, purpose="identity"):
    """HMAC-SHA256 of a normalized identifier under the configured hash key (hex)."""
    key = current_app.config["HASH_KEY"].encode()
    message = f"{purpose}\x00{normalize_identifier(value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_token():
    """A 256-bit random token for private links and invitations; store only `token_hash` of it."""
    return secrets.token_urlsafe(32)


def token_hash(token):
    return hashlib.sha256((token or "").encode()).hexdigest()


def new_public_id():
    """A random, non-sequential identifier safe to show in URLs (96 bits)."""
    return secrets.token_urlsafe(12)


def rate_limit_key(window_seconds=3600):
    """Rate-limit key: a keyed hash of the client address that changes every window.

    The address itself is never stored; the limiter's storage only sees this value, which
    cannot be linked to an address once the window (and the key) has passed.
    """
    window = int(time.time() // window_seconds)
    address = request.remote_addr or ""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"rl\x00{window}\x00{address}".encode(), hashlib.sha256).hexdigest()[:32]
