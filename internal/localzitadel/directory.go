package localzitadel

import (
	"maps"
	"slices"
)

// The directory (projects, applications, service users) changes while the
// instance serves: the management calls of management.go create and delete
// objects. Readers take the read lock only to find an object; objects are
// never changed in place but replaced by a changed copy (update*), so a
// pointer a request holds stays a consistent snapshot.

func (i *Instance) userByID(id string) *serviceUser {
	i.dir.RLock()
	defer i.dir.RUnlock()
	return i.users[id]
}

func (i *Instance) appByClientID(clientID string) *apiApp {
	i.dir.RLock()
	defer i.dir.RUnlock()
	return i.apps[clientID]
}

func (i *Instance) projectByID(id string) *project {
	i.dir.RLock()
	defer i.dir.RUnlock()
	return i.projects[id]
}

// updateUser replaces the user with a copy changed by f. The caller holds
// the write lock.
func (i *Instance) updateUser(u *serviceUser, f func(*serviceUser)) *serviceUser {
	c := *u
	c.roles = maps.Clone(u.roles)
	if c.roles == nil {
		c.roles = map[string][]string{}
	}
	f(&c)
	i.users[c.id] = &c
	return &c
}

// updateApp replaces the application with a copy changed by f. The caller
// holds the write lock.
func (i *Instance) updateApp(a *apiApp, f func(*apiApp)) *apiApp {
	c := *a
	f(&c)
	i.apps[c.clientID] = &c
	return &c
}

// updateProject replaces the project with a copy changed by f. The caller
// holds the write lock.
func (i *Instance) updateProject(p *project, f func(*project)) *project {
	c := *p
	c.roles = slices.Clone(p.roles)
	f(&c)
	i.projects[c.id] = &c
	return &c
}
