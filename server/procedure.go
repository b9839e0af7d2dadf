package server

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// unaryProcedures maps every procedure ("/pkg.Service/Method") of the named
// services to whether it is unary.
func unaryProcedures(services []string) map[string]bool {
	unary := make(map[string]bool)
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			panic("server: service " + name + " is not registered: " + err.Error())
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			unary["/"+name+"/"+string(m.Name())] = !m.IsStreamingClient() && !m.IsStreamingServer()
		}
	}
	return unary
}

// clientStreamProcedures maps every streaming procedure of the named
// services to whether the client streams (client and bidi streams).
func clientStreamProcedures(services []string) map[string]bool {
	streams := make(map[string]bool)
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			panic("server: service " + name + " is not registered: " + err.Error())
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			if m := methods.Get(i); m.IsStreamingClient() || m.IsStreamingServer() {
				streams["/"+name+"/"+string(m.Name())] = m.IsStreamingClient()
			}
		}
	}
	return streams
}
