package flightdelay.nifi;

import org.apache.nifi.authorization.AuthorizationRequest;
import org.apache.nifi.authorization.AuthorizationResult;
import org.apache.nifi.authorization.Authorizer;
import org.apache.nifi.authorization.AuthorizerConfigurationContext;
import org.apache.nifi.authorization.AuthorizerInitializationContext;
import org.apache.nifi.authorization.exception.AuthorizerCreationException;
import org.apache.nifi.components.PropertyValue;

/** Everything allowed to the one user of SingleUserLoginProvider (property "Username"), nothing
 *  to anyone else: an anonymous or other identity is denied even if it reached the authorizer. */
public class SingleUserAuthorizer implements Authorizer {
    private String username;

    @Override
    public void initialize(AuthorizerInitializationContext context) {
    }

    @Override
    public void onConfigured(AuthorizerConfigurationContext context) {
        PropertyValue value = context.getProperty("Username");
        username = value == null ? null : value.getValue();
        if (username == null || username.isBlank()) {
            throw new AuthorizerCreationException("property Username is required");
        }
    }

    @Override
    public AuthorizationResult authorize(AuthorizationRequest request) {
        if (!request.isAnonymous() && username.equals(request.getIdentity())) {
            return AuthorizationResult.approved();
        }
        return AuthorizationResult.denied("only " + username + " may use this NiFi");
    }

    @Override
    public void preDestruction() {
    }
}
