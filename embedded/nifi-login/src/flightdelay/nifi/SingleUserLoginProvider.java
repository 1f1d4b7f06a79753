package flightdelay.nifi;

import java.util.concurrent.TimeUnit;
import org.apache.nifi.authentication.AuthenticationResponse;
import org.apache.nifi.authentication.LoginCredentials;
import org.apache.nifi.authentication.LoginIdentityProvider;
import org.apache.nifi.authentication.LoginIdentityProviderConfigurationContext;
import org.apache.nifi.authentication.LoginIdentityProviderInitializationContext;
import org.apache.nifi.authentication.exception.InvalidLoginCredentialsException;
import org.apache.nifi.authentication.exception.ProviderCreationException;

/** NiFi's login for one user whose password is generated at the platform's first start.
 *  Properties: "Username" and "Password Hash" (PasswordHash's form), "Expiration Hours".
 *  Written for the embedded platform because NiFi's own single-user NAR is not in the registry. */
public class SingleUserLoginProvider implements LoginIdentityProvider {
    private String username;
    private PasswordHash passwordHash;
    private long expirationMillis = TimeUnit.HOURS.toMillis(12);
    private String issuer = "flightdelay-single-user";

    @Override
    public void initialize(LoginIdentityProviderInitializationContext context) {
        issuer = context.getIdentifier();
    }

    @Override
    public void onConfigured(LoginIdentityProviderConfigurationContext context) {
        username = context.getProperty("Username");
        if (username == null || username.isBlank()) {
            throw new ProviderCreationException("property Username is required");
        }
        try {
            passwordHash = new PasswordHash(context.getProperty("Password Hash"));
        } catch (IllegalArgumentException e) {
            throw new ProviderCreationException("property Password Hash: " + e.getMessage());
        }
        String hours = context.getProperty("Expiration Hours");
        if (hours != null && !hours.isBlank()) {
            expirationMillis = TimeUnit.HOURS.toMillis(Long.parseLong(hours.trim()));
        }
    }

    @Override
    public AuthenticationResponse authenticate(LoginCredentials credentials) {
        String password = credentials.getPassword() == null ? "" : credentials.getPassword();
        boolean known = username.equals(credentials.getUsername());
        // Hash even for an unknown user name, so the answer takes as long either way.
        boolean valid = passwordHash.matches(password) && known;
        if (!valid) {
            throw new InvalidLoginCredentialsException("user name or password not valid");
        }
        return new AuthenticationResponse(username, username, expirationMillis, issuer);
    }

    @Override
    public void preDestruction() {
    }
}
