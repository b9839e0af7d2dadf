package server

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// unaryProcedures maps every procedure ("/pkg.Service/Method") of the named
// services to whether it is unary.
func unaryProcedures(services []string) map[string]bool {
	unary := make(map[string]bool)
	forEachMethod(services, func(procedure string, m protoreflect.MethodDescriptor) {
		unary[procedure] = !m.IsStreamingClient() && !m.IsStreamingServer()
	})
	return unary
}

// clientStreamProcedures maps every streaming procedure of the named
// services to whether the client streams (client and bidi streams).
func clientStreamProcedures(services []string) map[string]bool {
	streams := make(map[string]bool)
	forEachMethod(services, func(procedure string, m protoreflect.MethodDescriptor) {
		if m.IsStreamingClient() || m.IsStreamingServer() {
			streams[procedure] = m.IsStreamingClient()
		}
	})
	return streams
}

// forEachMethod calls f with every method of the named services, which
// must be in the global registry, and its procedure path.
func forEachMethod(services []string, f func(procedure string, m protoreflect.MethodDescriptor)) {
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			panic("server: service " + name + " is not registered: " + err.Error())
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			f("/"+name+"/"+string(m.Name()), m)
		}
	}
}
