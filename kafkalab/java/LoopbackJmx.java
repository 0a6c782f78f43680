// Starts a broker (or any main class) with its JMX on 127.0.0.1:<port> only: the RMI registry
// and the connector share that one port, and nothing else listens. The JDK's own agent
// (-Dcom.sun.management.jmxremote.port) would also open its local connector on every
// interface (it refuses remote clients only after accepting them), hence this wrapper.
//
// No authentication and no TLS: only processes on this machine can connect (the socket is
// bound to the loopback address and the stubs the registry hands out name it too), and on
// this machine the broker's own files are as open to them as its JMX.
//
// Usage: java ... LoopbackJmx <port> <main class> <its arguments...>
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.rmi.registry.LocateRegistry;
import java.rmi.server.RMIServerSocketFactory;
import java.util.Arrays;
import java.util.Map;
import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;
import javax.management.remote.rmi.RMIConnectorServer;

public final class LoopbackJmx {
    private static final String LOOPBACK = "127.0.0.1";

    public static void main(String[] args) throws Throwable {
        int port = Integer.parseInt(args[0]);
        Method main = Class.forName(args[1]).getMethod("main", String[].class);
        System.setProperty("java.rmi.server.hostname", LOOPBACK);  // the address the stubs name
        System.setProperty("java.rmi.server.randomIDs", "true");
        // One factory instance for both, so that the registry and the connector share the port.
        // A lambda, not a nested class: the helper is compiled to this one class file.
        RMIServerSocketFactory loopback = p -> new ServerSocket(p, 50, InetAddress.getByName(LOOPBACK));
        LocateRegistry.createRegistry(port, null, loopback);
        JMXServiceURL url = new JMXServiceURL(
                "service:jmx:rmi://" + LOOPBACK + ":" + port + "/jndi/rmi://" + LOOPBACK + ":" + port + "/jmxrmi");
        Map<String, Object> env = Map.of(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, loopback);
        JMXConnectorServer server = JMXConnectorServerFactory.newJMXConnectorServer(
                url, env, ManagementFactory.getPlatformMBeanServer());
        server.start();
        try {
            main.invoke(null, (Object) Arrays.copyOfRange(args, 2, args.length));
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
