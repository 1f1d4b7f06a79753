package flightdelay.nifi;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/** A PBKDF2-HMAC-SHA256 password hash, "pbkdf2-sha256$iterations$salt$hash" (base64), the form
 *  embedded/environment.py writes: the JDK computes it, so the login needs no library. */
final class PasswordHash {
    private final int iterations;
    private final byte[] salt;
    private final byte[] hash;

    PasswordHash(String encoded) {
        String[] parts = encoded == null ? new String[0] : encoded.trim().split("\\$");
        if (parts.length != 4 || !parts[0].equals("pbkdf2-sha256")) {
            throw new IllegalArgumentException("not a pbkdf2-sha256$iterations$salt$hash value");
        }
        iterations = Integer.parseInt(parts[1]);
        salt = Base64.getDecoder().decode(parts[2]);
        hash = Base64.getDecoder().decode(parts[3]);
    }

    /** True when `password` hashes to the stored value (compared in constant time). */
    boolean matches(String password) {
        try {
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, hash.length * 8);
            byte[] candidate = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            spec.clearPassword();
            return MessageDigest.isEqual(candidate, hash);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 unavailable", e);
        }
    }
}
